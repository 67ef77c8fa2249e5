"""Which deadlines a dispatch sets: the policy book, the start of the clocks, and what the task reads."""

from datetime import datetime, timedelta

from cityloop.common.calendar import CITY_TZ, OfficeHours
from cityloop.common.contract.lifecycle import ClockKind
from cityloop.common.contract.models import Deadlines, Urgency
from cityloop.sla import events
from cityloop.sla.deadlines import dispatch_deadlines, dispatch_start
from cityloop.sla.policy import (
    Policy,
    PolicyBook,
    PolicyRule,
    Span,
    policy_for,
    with_catalogue_days,
)

HOURS = OfficeHours()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CITY_TZ)


def test_urgent_and_critical_tickets_run_on_minutes_by_default() -> None:
    book = PolicyBook()
    for urgency in (Urgency.URGENT, Urgency.CRITICAL):
        pressing = policy_for(book, category="gas.leak", urgency=urgency, mode="peacetime")
        assert (pressing.accept, pressing.on_site, pressing.escalate_every) == (
            Span.minutes(15),
            Span.minutes(60),
            Span.minutes(15),
        )
        assert pressing.counts_from == "report"
        assert pressing.resolve == Span.days(5)  # resolve stays on the catalogue's working days
    normal = policy_for(book, category="gas.leak", urgency=Urgency.NORMAL, mode="peacetime")
    assert (normal.accept, normal.on_site, normal.counts_from) == (Span.days(1), None, "dispatch")
    assert policy_for(book, category="gas.leak", urgency=None, mode="peacetime").on_site is None


def test_a_category_rule_does_not_stretch_an_urgent_ticket_unless_it_names_the_urgency() -> None:
    slow_water = Policy(resolve=Span.days(10))
    gas_critical = Policy(accept=Span.minutes(5), on_site=Span.minutes(30), counts_from="report")
    book = PolicyBook(
        rules=(
            PolicyRule(category="water", policy=slow_water),
            PolicyRule(category="gas", urgency=Urgency.CRITICAL, policy=gas_critical),
        )
    )
    assert policy_for(book, category="water.main", urgency=Urgency.NORMAL, mode="peacetime") is slow_water
    assert policy_for(book, category="water.main", urgency=Urgency.CRITICAL, mode="peacetime") is book.pressing
    assert policy_for(book, category="gas.leak", urgency=Urgency.CRITICAL, mode="peacetime") is gas_critical
    assert policy_for(book, category="gas.leak", urgency=Urgency.URGENT, mode="peacetime") is book.pressing
    # In an emergency the emergency policy rules, whatever the urgency.
    assert policy_for(book, category="water.main", urgency=Urgency.CRITICAL, mode="emergency") is book.emergency


def test_the_pressing_policy_is_configurable_as_json() -> None:
    book = PolicyBook.model_validate(
        {"pressing": {"accept": {"seconds": 600}, "on_site": {"seconds": 1800}, "counts_from": "report"}}
    )
    policy = policy_for(book, category="roads", urgency=Urgency.URGENT, mode="peacetime")
    assert (policy.accept, policy.on_site) == (Span.minutes(10), Span.minutes(30))


def test_urgent_clocks_count_from_the_report_never_after_the_dispatch() -> None:
    reported, dispatched = local("2026-11-29 04:00"), local("2026-11-29 04:00:07")
    pressing = PolicyBook().pressing
    assert dispatch_start(pressing, dispatched_at=dispatched, reported_at=reported) == reported
    assert dispatch_start(pressing, dispatched_at=dispatched, reported_at=None) == dispatched
    # A report stamped after the dispatch (skewed clocks) gives no extra time.
    later = dispatched + timedelta(minutes=3)
    assert dispatch_start(pressing, dispatched_at=dispatched, reported_at=later) == dispatched
    assert dispatch_start(Policy(), dispatched_at=dispatched, reported_at=reported) == dispatched


def test_critical_ticket_on_a_sunday_night() -> None:
    # Sunday 29 November 2026, 04:00: a gas leak. Accept by 04:15, on site by 05:00; resolve counts the
    # catalogue's 3 working days from Monday's opening.
    start = local("2026-11-29 04:00")
    policy = with_catalogue_days(
        policy_for(PolicyBook(), category="gas.leak", urgency=Urgency.CRITICAL, mode="peacetime"),
        accept_days=1,
        resolve_days=3,
    )
    assert policy.accept == Span.minutes(15)  # catalogue days never stretch minutes
    due = dispatch_deadlines(policy, start, HOURS)
    assert list(due) == [ClockKind.ACCEPT, ClockKind.ON_SITE, ClockKind.RESOLVE]
    assert due[ClockKind.ACCEPT].at == start + timedelta(minutes=15)
    assert due[ClockKind.ON_SITE].at == start + timedelta(hours=1)
    assert due[ClockKind.RESOLVE].at == local("2026-12-03 09:00")
    assert not any(d.estimated for d in due.values())


def test_normal_ticket_on_friday_at_closing_time_waits_for_monday() -> None:
    # Friday 27 November 2026, 17:30 (closing time): counted from Monday's opening.
    start = local("2026-11-27 17:30")
    policy = policy_for(PolicyBook(), category="roads.pothole", urgency=Urgency.NORMAL, mode="peacetime")
    due = dispatch_deadlines(policy, start, HOURS)
    assert list(due) == [ClockKind.ACCEPT, ClockKind.RESOLVE]
    assert due[ClockKind.ACCEPT].at == local("2026-12-01 09:00")
    assert due[ClockKind.RESOLVE].at == local("2026-12-07 09:00")


def test_a_task_reads_every_deadline_and_whether_it_is_estimated() -> None:
    start = local("2026-12-30 10:00")
    due = dispatch_deadlines(Policy(), start, HOURS)
    assert due[ClockKind.RESOLVE].estimated  # five working days reach into 2027, not yet published
    opened = {kind: d.at for kind, d in due.items()}
    deadlines = events.task_deadlines(opened, estimated=any(d.estimated for d in due.values()))
    assert deadlines == Deadlines(
        accept_by=local("2026-12-31 10:00"), resolve_by=due[ClockKind.RESOLVE].at, on_site_by=None, estimated=True
    )
    assert events.deadlines_for("on_site", start) == Deadlines(on_site_by=start)
    assert events.deadlines_for("rehandle", start) == Deadlines(resolve_by=start)
    assert events.deadlines_for("callback", start) is None
