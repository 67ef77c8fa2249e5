"""Deadline arithmetic: pure functions over datetimes, the calendar and a policy's spans."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cityloop.common.calendar import OfficeHours, working_deadline
from cityloop.common.contract.lifecycle import ClockKind
from cityloop.sla.policy import Policy, Span

#: The clocks a dispatch opens for its department, in the order a task lists them.
DISPATCH_KINDS = (ClockKind.ACCEPT, ClockKind.ON_SITE, ClockKind.RESOLVE)


@dataclass(frozen=True)
class Due:
    at: datetime
    #: True when a year the official calendar does not cover was counted weekends-only.
    estimated: bool = False


def due_after(start: datetime, span: Span, hours: OfficeHours) -> Due:
    """``deadline(start, policy, calendar)``: working days from the first office moment, or wall-clock."""
    if span.seconds is not None:
        return Due(start + timedelta(seconds=span.seconds))
    at, estimated = working_deadline(start, span.working_days or 0, hours)
    return Due(at, estimated)


def dispatch_start(policy: Policy, *, dispatched_at: datetime, reported_at: datetime | None) -> datetime:
    """When a dispatch's clocks start: at the dispatch, or at the citizen's report for a policy that
    counts from it (never later than the dispatch: a skewed clock must not give extra time)."""
    if policy.counts_from == "report" and reported_at is not None:
        return min(reported_at, dispatched_at)
    return dispatched_at


def dispatch_deadlines(policy: Policy, start: datetime, hours: OfficeHours) -> dict[ClockKind, Due]:
    """Every deadline a dispatch sets for its department, counted from ``start``; a kind the policy has
    no span for (on site, for an ordinary ticket) is left out."""
    due: dict[ClockKind, Due] = {}
    for kind in DISPATCH_KINDS:
        span = policy.span(kind)
        if span is not None:
            due[kind] = due_after(start, span, hours)
    return due


def warn_at(started: datetime, due: datetime, ratio: float) -> datetime | None:
    """预警 moment: ``ratio`` of the way from start to deadline; None when there is no time to warn in."""
    if due <= started:
        return None
    return started + (due - started) * ratio


@lru_cache(maxsize=256)
def escalation_span(days: int | None, seconds: float | None) -> Span:
    """The ladder interval as stored on a clock row (one of the two is set)."""
    return Span(seconds=seconds) if seconds is not None else Span(working_days=days or 0)
