"""The fault harness's invariants (tests/chaos/invariants.py) and plan, on hand-made rows: each catches
the fault it names, and a clean run passes them all."""

import pytest

from tests.chaos import faults
from tests.chaos.__main__ import parse_duration
from tests.chaos.invariants import (
    Sent,
    Update,
    callbacks_once,
    check_all,
    deadlines_fired_once,
    dlq_holds_the_unprocessable,
    nothing_dropped,
    one_current_lead,
    open_tickets_owned,
    tickets_exist_once,
    trails_complete_and_ordered,
    updates_applied_once,
)
from tests.chaos.observe import Clock, DlqEntry, Observed

LOOP = [
    "cityloop.ticket.created",
    "cityloop.ticket.dispatched",
    "cityloop.sla.deadlines_set",
    "cityloop.ticket.accepted",
    "cityloop.ticket.progress",
    "cityloop.ticket.resolved",
    "cityloop.callback.opened",
    "cityloop.callback.recorded",
    "cityloop.ticket.closed",
]
UPDATES = ("cityloop.dept.accepted", "cityloop.dept.progress", "cityloop.dept.resolved")


def clean() -> tuple[Sent, Observed]:
    """Two tickets: T1 went round the whole loop and is closed; T2 is accepted, its accept clock warned."""
    sent = Sent(
        tickets={"T1": "d1", "T2": "d2"},
        ambiguous=0,
        updates=[Update(f"u-T1-{i}", "T1", "A1", t) for i, t in enumerate(UPDATES)]
        + [Update("u-T2-0", "T2", "A2", UPDATES[0])],
        poison={"chaos-poison-x"},
    )
    trail1 = [(t, f"e-T1-{i}") for i, t in enumerate(LOOP)]
    trail2 = [(t, f"e-T2-{i}") for i, t in enumerate(LOOP[:4])] + [("cityloop.sla.warning", "e-T2-w")]
    seen = Observed(
        tickets={"T1": "closed", "T2": "accepted"},
        descriptions={"d1": 1, "d2": 1},
        trails={"T1": trail1, "T2": trail2},
        assignments={"T1": [("A1", "lead", "resolved")], "T2": [("A2", "lead", "accepted")]},
        clocks=[
            Clock(1, "T1", "accept", "met", 0, overdue=False),
            Clock(2, "T2", "resolve", "open", 1, overdue=False),
        ],
        callbacks={"T1": [("resolved", "done")]},
        callback_ids={"T1": {1}},
        opened_callback_ids={"T1": {1}},
        inbox={"router.dept-updates": {u.event_id for u in sent.updates}},
        unpublished_outbox={"intake": 0, "router": 0},
        lifecycle=[(e, "T1", t, None) for t, e in trail1]
        + [(e, "T2", t, (2, "warning@x") if t == "cityloop.sla.warning" else None) for t, e in trail2],
        tasks=[("task-1", "cityloop.task.assigned", "A1"), ("task-2", "cityloop.task.assigned", "A2")],
        dlq=[DlqEntry("dept.updates.dlq", "chaos-poison-x", "not a CloudEvent", None)],
    )
    return sent, seen


def test_a_clean_run_passes_every_invariant_with_its_counts() -> None:
    sent, seen = clean()
    results = check_all(sent, seen)
    assert [r.violations for r in results] == [[] for _ in results]
    by_name = {r.name: r.counts for r in results}
    assert by_name["every accepted ticket exists once"]["found"] == 2
    assert by_name["every department update applied exactly once in effect"]["applied"] == 4
    assert by_name["every due deadline fired once in effect"]["fires"] == 1
    assert by_name["every unprocessable event is in a DLQ with its reason"]["poison_in_dlq"] == 1


def test_a_lost_or_duplicated_ticket_is_caught() -> None:
    sent, seen = clean()
    del seen.tickets["T2"]
    seen.descriptions["d1"] = 2
    r = tickets_exist_once(sent, seen)
    assert (r.counts["missing"], r.counts["duplicated"]) == (1, 1)
    assert not r.ok


def test_tickets_nobody_was_told_about_are_allowed_only_for_lost_answers() -> None:
    sent, seen = clean()
    seen.tickets["T3"] = "dispatched"
    assert not tickets_exist_once(sent, seen).ok
    sent.ambiguous = 1
    assert tickets_exist_once(sent, seen).ok


def test_two_leads_or_a_ticket_never_routed_is_caught() -> None:
    sent, seen = clean()
    seen.assignments["T2"].append(("A9", "lead", "assigned"))
    seen.tickets["T1"] = "received"
    r = one_current_lead(sent, seen)
    assert r.violation_count == 2
    assert r.counts == {"never_routed": 1, "wrong_lead_count": 1}


def test_a_trail_out_of_order_incomplete_or_repeating_is_caught() -> None:
    sent, seen = clean()
    seen.trails["T1"] = [seen.trails["T1"][1], seen.trails["T1"][0], *seen.trails["T1"][2:]]
    assert "out of causal order" in trails_complete_and_ordered(sent, seen).violations[0]
    sent, seen = clean()
    seen.trails["T2"] = seen.trails["T2"][:2]
    assert "lacks ['cityloop.ticket.accepted']" in trails_complete_and_ordered(sent, seen).violations[0]
    sent, seen = clean()
    seen.trails["T2"].append(("cityloop.ticket.accepted", "e-again"))
    assert "repeated" in trails_complete_and_ordered(sent, seen).violations[0]


def test_an_update_not_applied_or_applied_twice_is_caught() -> None:
    sent, seen = clean()
    seen.inbox["router.dept-updates"].discard("u-T2-0")
    seen.trails["T1"].append(("cityloop.ticket.resolved", "e-dup"))
    r = updates_applied_once(sent, seen)
    assert r.counts == {"sent": 4, "applied": 3, "effects_not_once": 1}


def test_a_missed_fire_a_double_fire_and_a_store_mismatch_are_caught() -> None:
    sent, seen = clean()
    seen.clocks.append(Clock(3, "T2", "accept", "open", 0, overdue=True))
    seen.lifecycle.append(("e-T2-w-copy", "T2", "cityloop.sla.warning", (2, "warning@x")))
    seen.clocks[0] = Clock(1, "T1", "accept", "met", 1, overdue=False)
    r = deadlines_fired_once(sent, seen)
    assert (r.counts["due_not_fired"], r.counts["fired_twice"], r.counts["store_topic_mismatch"]) == (1, 1, 1)


def test_a_missing_or_second_callback_is_caught() -> None:
    sent, seen = clean()
    seen.callbacks["T1"] = [("resolved", "done"), ("resolved", "due")]
    assert callbacks_once(sent, seen).counts["duplicated"] == 1
    seen.callbacks = {}
    assert callbacks_once(sent, seen).counts["missing"] == 1


def test_a_callback_still_due_on_a_closed_ticket_is_caught() -> None:
    """A resolve deadline's breach applied after the resolution's callback was answered once opened one."""
    sent, seen = clean()
    assert seen.tickets["T1"] == "closed"
    seen.callbacks["T1"] = [("resolved", "done"), ("overdue", "due")]
    result = callbacks_once(sent, seen)
    assert result.counts["due_on_closed"] == 1
    assert "closed, with a callback still due" in result.violations[0]


def test_a_callback_announced_twice_under_one_id_is_one_callback_and_an_unstored_one_is_caught() -> None:
    sent, seen = clean()
    # an overdue callback that became the resolution's: opened twice on the trail, one row in feedback
    seen.trails["T1"] = [*seen.trails["T1"], ("cityloop.callback.opened", "e-T1-again")]
    assert callbacks_once(sent, seen).violations == []
    seen.opened_callback_ids["T1"] = {1, 2}
    assert callbacks_once(sent, seen).counts["on_trail_not_stored"] == 1
    seen.opened_callback_ids["T1"] = set()
    assert callbacks_once(sent, seen).counts["stored_not_on_trail"] == 1


def test_a_callback_for_a_passed_resolve_deadline_before_the_resolution_is_in_order() -> None:
    """feedback asks the citizen when the resolve deadline passes unresolved, then again after resolution."""
    sent, seen = clean()
    types = [t for t, _ in seen.trails["T1"]]
    early = [*types[:4], "cityloop.callback.opened", "cityloop.callback.recorded", *types[4:]]
    seen.trails["T1"] = [(t, f"e-T1-{i}") for i, t in enumerate(early)]
    seen.lifecycle = [(e, "T1", t, None) for t, e in seen.trails["T1"]] + seen.lifecycle[len(types) :]
    seen.callbacks["T1"] = [("overdue", "done"), ("resolved", "done")]
    assert [r.violations for r in check_all(sent, seen)] == [[] for _ in check_all(sent, seen)]
    assert callbacks_once(sent, seen).counts["callbacks_for_overdue"] == 1
    after = {f"e-T1-{len(early) - 3}", f"e-T1-{len(early) - 2}"}  # the callback after the resolution
    seen.trails["T1"] = [x for x in seen.trails["T1"] if x[1] not in after]
    assert "callback out of order" in trails_complete_and_ordered(sent, seen).violations[0]


def test_an_open_ticket_without_owner_or_clock_is_caught() -> None:
    sent, seen = clean()
    seen.clocks = [c for c in seen.clocks if c.ticket_id != "T2"]
    assert "without a live clock" in open_tickets_owned(sent, seen).violations[0]
    sent, seen = clean()
    seen.assignments["T2"] = [("A2", "lead", "withdrawn")]
    assert "without a live owner" in open_tickets_owned(sent, seen).violations[0]


def test_a_dead_lettered_valid_event_a_missing_poison_or_reason_is_caught() -> None:
    sent, seen = clean()
    seen.dlq = [DlqEntry("dept.updates.dlq", "T2", "", "u-T2-0")]
    r = dlq_holds_the_unprocessable(sent, seen)
    assert r.counts["valid_events_dead_lettered"] == 1
    assert r.counts["poison_in_dlq"] == 0
    assert any("without a reason" in v for v in r.violations)


def test_an_event_never_consumed_a_task_never_sent_or_an_unpublished_row_is_caught() -> None:
    sent, seen = clean()
    seen.lifecycle.append(("e-lost", "T2", "cityloop.ticket.progress", None))
    seen.tasks = seen.tasks[:1]
    seen.unpublished_outbox["router"] = 3
    seen.group_lag = {"cityloop.feedback.recurring": 2672, "cityloop.intake.trail": 0}
    r = nothing_dropped(sent, seen)
    assert r.violation_count == 4
    assert r.counts["groups_behind"] == 1
    assert (r.counts["not_on_trail"], r.counts["assignments_without_task"]) == (1, 1)


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("90s", 90), ("1h30m", 5400), ("45", 45), ("2.5m", 150)])
def test_durations_parse_like_make_chaos_takes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "30x", "5m junk"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_the_fault_plan_is_a_function_of_its_seed_and_holds_every_type() -> None:
    processes = ["intake", "router-1", "router-2", "sla-1", "sla-2", "feedback"]
    plan = faults.plan(7, processes, window=60, rounds=2)
    assert plan == faults.plan(7, processes, window=60, rounds=2)
    assert plan != faults.plan(8, processes, window=60, rounds=2)
    assert {f.type for f in plan} == set(faults.TYPES)
    assert sorted(f.target for f in plan if f.type == faults.KILL) == sorted(processes * 2)
    assert all(f.target in {"router-1", "router-2", "sla-1", "sla-2"} for f in plan if f.type == faults.PAUSE)
    assert sum(f.gap for f in plan) <= 60
