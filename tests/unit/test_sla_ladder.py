"""The escalation ladder, the policy book and the firing plan: pure functions."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cityloop.common.calendar import OfficeHours
from cityloop.common.contract import types
from cityloop.common.contract.emergencies import Emergency, EmergencyDeadlines, EmergencyScope
from cityloop.common.contract.lifecycle import StepKind
from cityloop.common.contract.models import Urgency
from cityloop.sla import ladder
from cityloop.sla.firing import plan_firing
from cityloop.sla.policy import Policy, PolicyBook, PolicyRule, Span, policy_for, with_catalogue_days
from cityloop.sla.settings import SlaSettings

T0 = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
CHAIN = ["pd-huamu", "pd-district", "city-centre"]


def test_ladder_climbs_the_chain_then_notices() -> None:
    kinds = [ladder.describe(n, CHAIN, "peacetime") for n in range(7)]
    assert [k.kind if k else None for k in kinds] == [
        StepKind.WARNING,
        StepKind.BREACH,
        StepKind.SUPERVISE,
        StepKind.SUPERVISE,
        StepKind.SUPERVISE,
        StepKind.NOTICE,
        None,
    ]
    assert [(k.target, k.level) for k in kinds[2:5] if k] == [("pd-huamu", 1), ("pd-district", 2), ("city-centre", 3)]


def test_emergency_goes_straight_to_the_command_unit() -> None:
    units = ladder.chain(CHAIN, "ops-centre", "emergency")
    assert units == ["ops-centre"]
    step = ladder.describe(2, units, "emergency")
    assert step is not None
    assert (step.kind, step.target) == (StepKind.COMMAND, "ops-centre")
    assert ladder.chain(CHAIN, "ops-centre", "peacetime") == CHAIN


def test_steps_are_spaced_by_the_policy() -> None:
    due = T0 + timedelta(seconds=10)
    every = Span(seconds=5)
    hours = OfficeHours()
    assert ladder.first_step(T0 + timedelta(seconds=8), due) == (ladder.WARNING, T0 + timedelta(seconds=8))
    assert ladder.first_step(None, due) == (ladder.BREACH, due)
    kw: dict[str, Any] = {"due_at": due, "units": ["a"], "mode": "peacetime", "every": every, "hours": hours}
    assert ladder.after(0, T0 + timedelta(seconds=8), **kw) == (1, due)
    assert ladder.after(1, due, **kw) == (2, due + timedelta(seconds=5))
    assert ladder.after(2, due + timedelta(seconds=5), **kw) == (3, due + timedelta(seconds=10))
    assert ladder.after(3, due + timedelta(seconds=10), **kw) is None


def test_policy_book_picks_the_most_specific_rule() -> None:
    water = Policy(resolve=Span.days(3))
    water_critical = Policy(resolve=Span.days(1))
    book = PolicyBook(
        rules=(
            PolicyRule(category="water", policy=water),
            PolicyRule(category="water", urgency=Urgency.CRITICAL, policy=water_critical),
        )
    )
    assert policy_for(book, category="water.outage", urgency=Urgency.NORMAL, mode="peacetime") is water
    assert policy_for(book, category="water.outage", urgency=Urgency.CRITICAL, mode="peacetime") is water_critical
    assert policy_for(book, category="waterfront", urgency=None, mode="peacetime") == Policy()
    assert policy_for(book, category="water.outage", urgency=None, mode="emergency").accept == Span.minutes(15)


def test_defaults_follow_the_published_rules() -> None:
    book = PolicyBook()
    peace = policy_for(book, category="sanitation.garbage", urgency=Urgency.NORMAL, mode="peacetime")
    assert (peace.accept, peace.resolve, peace.rehandle, peace.extension_cap) == (
        Span.days(1),
        Span.days(5),
        Span.days(3),
        Span.days(15),
    )
    critical = policy_for(book, category="sanitation.garbage", urgency=Urgency.CRITICAL, mode="peacetime")
    assert critical.accept == Span.minutes(15)
    assert with_catalogue_days(peace, accept_days=2, resolve_days=3).resolve == Span.days(3)
    with pytest.raises(ValidationError):
        Span(working_days=1, seconds=5)


def _clock(**over: Any) -> dict[str, Any]:
    clock: dict[str, Any] = {
        "id": 42,
        "ticket_id": "T-1",
        "assignment_id": "A-1",
        "dept_code": "pd-sanitation",
        "category": "sanitation.garbage",
        "kind": "accept",
        "mode": "peacetime",
        "command_unit": None,
        "supervisors": ["pd-huamu"],
        "desks": ["pd-ops", "city-ops"],
        "step": 0,
        "next_fire_at": T0,
        "warn_at": T0,
        "due_at": T0 + timedelta(seconds=10),
        "escalate_days": None,
        "escalate_seconds": 5.0,
        "district": "pd",
        "street": "pd-s01",
    }
    return clock | over


def _emergency(*, stood_down: bool = False) -> Emergency:
    return Emergency(
        id="E-1",
        name="暴雨",
        level="II",
        scope=EmergencyScope(districts=["pd"]),
        categories=["sanitation"],
        command_unit="pd-ops",
        deadlines=EmergencyDeadlines(accept_minutes=10, onsite_minutes=30, resolve_minutes=120),
        declared_by="command_centre:c",
        declared_at=T0,
        stood_down_at=T0 if stood_down else None,
    )


def test_escalation_follows_the_emergencies_in_force() -> None:
    settings = SlaSettings()
    due = _clock(step=2, next_fire_at=T0 + timedelta(seconds=15))
    # In force where the ticket is: straight to the command unit, though its dispatch said peacetime.
    commanded = plan_firing(due, settings, T0, [_emergency()])
    assert commanded.step == ladder.Step(2, StepKind.COMMAND, target="pd-ops", level=1)
    assert plan_firing(due | {"district": "hp", "street": "hp-s01"}, settings, T0, [_emergency()]).step.target == (
        "pd-huamu"
    )
    # Set under an emergency that has been stood down since (re-homing not there yet): the peacetime chain.
    stale = due | {"mode": "emergency", "command_unit": "pd-ops"}
    assert plan_firing(stale, settings, T0, [_emergency(stood_down=True)]).step.kind is StepKind.SUPERVISE
    assert plan_firing(stale, settings, T0, [_emergency()]).step.kind is StepKind.COMMAND
    # The hotline's callback clock never goes to a command.
    assert plan_firing(due | {"kind": "callback", "supervisors": []}, settings, T0, [_emergency()]).step.kind is (
        StepKind.NOTICE
    )


def test_firing_plan_announces_to_the_trail_and_the_department() -> None:
    settings = SlaSettings()
    warning = plan_firing(_clock(), settings, T0)
    (lifecycle_topic, lifecycle), (task_topic, task) = warning.outgoing
    assert (lifecycle_topic, lifecycle.type) == ("ticket.lifecycle", types.SLA_WARNING)
    assert (task_topic, task.type, task.data["change"]) == ("dept.pd-sanitation.tasks", types.TASK_UPDATED, "warning")
    assert warning.advance.next_step == 1
    assert warning.advance.next_fire_at == T0 + timedelta(seconds=10)
    # The same step planned twice gets the same event ids: a repeat is a no-op downstream.
    assert [e.id for _, e in plan_firing(_clock(), settings, T0).outgoing] == [lifecycle.id, task.id]

    supervise = plan_firing(_clock(step=2, next_fire_at=T0 + timedelta(seconds=15)), settings, T0)
    assert supervise.outgoing[0][1].type == types.SLA_ESCALATED
    assert supervise.outgoing[0][1].data["detail"]["to"] == "pd-huamu"
    assert supervise.outgoing[1][1].data["change"] == "supervised"
    assert supervise.advance.next_fire_at == T0 + timedelta(seconds=20)  # then the notice
    # 督办 with a desk: the late task goes on the nearest desk, which hears it on its own topic.
    (desk_topic, on_desk), (_, desk_line) = supervise.outgoing[2:]
    assert (desk_topic, on_desk.type) == ("dept.pd-ops.tasks", types.TASK_SUPERVISED)
    assert (on_desk.data["desk"], on_desk.data["level"], on_desk.data["supervision_id"]) == ("pd-ops", 1, 42)
    assert (desk_line.type, desk_line.data["detail"]["action"]) == (types.SLA_SUPERVISION, "opened")
    assert supervise.placed is not None
    assert (supervise.placed.desk, supervise.placed.clock_id) == ("pd-ops", 42)
    assert warning.placed is None

    notice = plan_firing(_clock(step=3, next_fire_at=T0 + timedelta(seconds=20)), settings, T0)
    assert notice.step.kind is StepKind.NOTICE
    assert notice.advance.next_fire_at is None  # the ladder is done
    assert notice.notice is not None  # 通报, counted per department and period
    assert notice.notice.dept_code == "pd-sanitation"

    callback = plan_firing(_clock(kind="callback", step=1, next_fire_at=T0 + timedelta(seconds=10)), settings, T0)
    assert [e.type for _, e in callback.outgoing] == [types.SLA_BREACHED]  # the hotline's own clock
