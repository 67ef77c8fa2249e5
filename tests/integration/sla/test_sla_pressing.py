"""sla alone owns deadlines: an urgent ticket runs on wall-clock minutes around the clock, an ordinary one
on working days and office hours; the department's task topic carries every deadline sla computed.

The dispatch is published with a fixed time (as the router would, at that moment); the critical ticket's
pressing policy is the shipped default, the ordinary one runs the default policy (category ``calendar.*``).
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from cityloop.common.calendar import CITY_TZ
from cityloop.common.contract import types
from cityloop.common.identity import Role
from tests.integration.sla.conftest import SUPERVISORS, Sla


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CITY_TZ)


def new_ticket() -> str:
    return f"T-slap-{uuid.uuid4().hex[:10]}"


async def dispatch(sla: Sla, ticket: str, *, at: datetime, reported_at: datetime, urgency: str, category: str) -> str:
    assignment = f"A-{uuid.uuid4().hex[:8]}"
    await sla.announce(
        ticket,
        types.TICKET_DISPATCHED,
        at=at,
        dept_code="sla-street",
        assignment_id=assignment,
        reported_at=reported_at.isoformat(),
        category=category,
        urgency=urgency,
        # What the router's catalogue says; no deadlines (sla computes them).
        policy={"accept_days": 1, "resolve_days": 3},
        supervisors=SUPERVISORS,
        assists=[{"dept_code": "sla-street-b", "assignment_id": f"{assignment}-b", "role": "assist"}],
    )
    return assignment


def stated(trail: list[dict[str, Any]]) -> dict[str, datetime]:
    """The deadlines sla stated on the ticket's trail (cityloop.sla.deadlines_set), by clock kind."""
    found = [e["data"]["detail"] for e in trail if e["type"] == types.SLA_DEADLINES_SET]
    return {k: datetime.fromisoformat(v) for k, v in found[0]["deadlines"].items()} if found else {}


def deadline_set(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e["data"] for e in tasks if e["data"]["change"] == "deadline_set"), None)


async def test_critical_ticket_at_four_on_a_sunday_morning_runs_on_minutes(sla: Sla) -> None:
    ticket = new_ticket()
    created = local("2026-12-06 04:00")  # a Sunday
    assignment = await dispatch(
        sla, ticket, at=created + timedelta(seconds=4), reported_at=created, urgency="critical", category="gas.leak"
    )

    trail = await sla.lifecycle.wait_for(ticket, lambda t: bool(stated(t)))
    on_trail = stated(trail)
    assert on_trail["accept"] - created <= timedelta(minutes=15)
    assert on_trail == {
        "accept": created + timedelta(minutes=15),
        "on_site": created + timedelta(hours=1),
        "resolve": local("2026-12-10 09:00"),  # the catalogue's 3 working days from Monday's opening
    }

    tasks = await sla.tasks["sla-street"].wait_for(ticket, lambda evs: deadline_set(evs) is not None)
    task = deadline_set(tasks)
    assert task is not None
    assert (task["assignment_id"], tasks[0]["type"]) == (assignment, types.TASK_UPDATED)
    assert {k: datetime.fromisoformat(v) for k, v in task["deadlines"].items() if k != "estimated"} == {
        "accept_by": created + timedelta(minutes=15),
        "on_site_by": created + timedelta(hours=1),
        "resolve_by": local("2026-12-10 09:00"),
    }
    assert task["deadlines"]["estimated"] is False
    # The assisting department (协办) is told the same deadlines on its own topic.
    assisted = await sla.tasks["sla-street-b"].wait_for(ticket, lambda evs: deadline_set(evs) is not None)
    assist_task = deadline_set(assisted)
    assert assist_task is not None
    assert (assist_task["assignment_id"], assist_task["deadlines"]) == (f"{assignment}-b", task["deadlines"])

    clocks = (await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}", headers=sla.as_(Role.AUDITOR))).json()
    on_site = next(c for c in clocks["clocks"] if c["kind"] == "on_site")
    assert (datetime.fromisoformat(on_site["started_at"]), on_site["state"]) == (created, "open")


async def test_normal_ticket_on_friday_at_half_past_five_follows_the_calendar(sla: Sla) -> None:
    ticket = new_ticket()
    created = local("2026-12-04 17:30")  # a Friday, at closing time
    await dispatch(
        sla, ticket, at=created + timedelta(seconds=4), reported_at=created, urgency="normal", category="calendar.road"
    )
    trail = await sla.lifecycle.wait_for(ticket, lambda t: bool(stated(t)))
    # Counted from Monday's opening: 1 working day to accept, the catalogue's 3 to resolve; no on-site clock.
    assert stated(trail) == {"accept": local("2026-12-08 09:00"), "resolve": local("2026-12-10 09:00")}
    tasks = await sla.tasks["sla-street"].wait_for(ticket, lambda evs: deadline_set(evs) is not None)
    task = deadline_set(tasks)
    assert task is not None
    assert datetime.fromisoformat(task["deadlines"]["accept_by"]) == local("2026-12-08 09:00")
    assert datetime.fromisoformat(task["deadlines"]["resolve_by"]) == local("2026-12-10 09:00")
    assert (task["deadlines"]["on_site_by"], task["deadlines"]["estimated"]) == (None, False)


async def test_on_site_report_meets_the_on_site_clock(sla: Sla) -> None:
    ticket = new_ticket()
    now = datetime.now(CITY_TZ)
    assignment = await dispatch(sla, ticket, at=now, reported_at=now, urgency="urgent", category="gas.leak")
    await sla.lifecycle.wait_for(ticket, lambda t: bool(stated(t)))
    await sla.announce(ticket, types.TICKET_ACCEPTED, dept_code="sla-street", assignment_id=assignment)
    await sla.announce(
        ticket, types.TICKET_PROGRESS, dept_code="sla-street", assignment_id=assignment, on_site=True, note="已到达现场"
    )
    trail = await sla.lifecycle.wait_for(ticket, lambda t: met(t)[-1:] == [("on_site", False)])
    assert met(trail) == [("accept", False), ("on_site", False)]


def met(trail: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    details = [e["data"]["detail"] for e in trail if e["type"] == types.SLA_DEADLINE_MET]
    return [(d["kind"], d["late"]) for d in details]
