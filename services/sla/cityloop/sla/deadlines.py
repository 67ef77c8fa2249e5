"""Deadline arithmetic: pure functions over datetimes, the calendar and a policy's spans."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cityloop.common.calendar import OfficeHours, working_deadline
from cityloop.sla.policy import Span


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


def warn_at(started: datetime, due: datetime, ratio: float) -> datetime | None:
    """预警 moment: ``ratio`` of the way from start to deadline; None when there is no time to warn in."""
    if due <= started:
        return None
    return started + (due - started) * ratio


@lru_cache(maxsize=256)
def escalation_span(days: int | None, seconds: float | None) -> Span:
    """The ladder interval as stored on a clock row (one of the two is set)."""
    return Span(seconds=seconds) if seconds is not None else Span(working_days=days or 0)
