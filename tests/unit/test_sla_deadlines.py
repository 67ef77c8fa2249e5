"""Deadline arithmetic over real calendar cases (China's official calendar, 2026 and the uncovered 2027)."""

from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from cityloop.common.calendar import CITY_TZ, OfficeHours, add_working_days, is_workday, next_opening
from cityloop.sla.deadlines import due_after, warn_at
from cityloop.sla.policy import Span

HOURS = OfficeHours()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CITY_TZ)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # Friday afternoon: one working day later is Monday afternoon, five is next Friday.
        ("2026-03-13 15:00", 1, "2026-03-16 15:00"),
        ("2026-03-13 15:00", 5, "2026-03-20 15:00"),
        # Friday evening, after office hours: the clock starts at Monday's opening.
        ("2026-03-13 18:30", 1, "2026-03-17 09:00"),
        # An ordinary Saturday: counted from Monday's opening.
        ("2026-03-07 10:00", 1, "2026-03-10 09:00"),
    ],
)
def test_friday_afternoon_and_weekend(start: str, days: int, due: str) -> None:
    assert due_after(local(start), Span.days(days), HOURS).at == local(due)


def test_before_the_spring_festival_holiday() -> None:
    # 2026: Saturday 14 Feb is a make-up working day, 15-23 Feb are off (春节), work resumes Tue 24 Feb.
    resolve = due_after(local("2026-02-12 10:00"), Span.days(5), HOURS)
    assert resolve.at == local("2026-02-26 10:00")  # 13, 14 (Sat, 调休), 24, 25, 26
    assert resolve.estimated is False
    accept = due_after(local("2026-02-13 16:00"), Span.days(1), HOURS)
    assert accept.at == local("2026-02-14 16:00")  # the make-up Saturday counts
    # Late on the make-up Saturday: the next opening is after the whole holiday.
    late = due_after(local("2026-02-14 17:45"), Span.days(1), HOURS)
    assert late.at == local("2026-02-25 09:00")


def test_make_up_saturday() -> None:
    # Saturday 28 Feb 2026 is a working day (调休); Sunday 1 March is not.
    assert is_workday(local("2026-02-28 00:00").date()) == (True, False)
    assert due_after(local("2026-02-27 11:00"), Span.days(1), HOURS).at == local("2026-02-28 11:00")
    # A ticket arriving on that Saturday starts counting at once.
    assert next_opening(local("2026-02-28 10:00"), HOURS) == (local("2026-02-28 10:00"), False)
    assert due_after(local("2026-02-28 10:00"), Span.days(1), HOURS).at == local("2026-03-02 10:00")


def test_national_day_week() -> None:
    # 1-7 October 2026 are off; work resumes Thursday 8 October.
    assert due_after(local("2026-09-30 10:00"), Span.days(1), HOURS).at == local("2026-10-08 10:00")


def _estimated_count(year: str) -> float:
    value = REGISTRY.get_sample_value("cityloop_calendar_estimated_days_total", {"year": year})
    return value or 0.0


def test_turn_of_a_year_the_library_does_not_cover() -> None:
    # chinese-calendar 1.11.0 stops at 2026: within 2026 nothing is estimated ...
    inside = due_after(local("2026-12-30 10:00"), Span.days(1), HOURS)
    assert (inside.at, inside.estimated) == (local("2026-12-31 10:00"), False)
    # ... across the turn of the year the fallback counts weekends only, says so and raises the metric.
    before = _estimated_count("2027")
    across = due_after(local("2026-12-31 10:00"), Span.days(1), HOURS)
    assert (across.at, across.estimated) == (local("2027-01-01 10:00"), True)
    week = due_after(local("2026-12-31 10:00"), Span.days(5), HOURS)
    assert (week.at, week.estimated) == (local("2027-01-07 10:00"), True)  # 1, 4, 5, 6, 7 January
    assert _estimated_count("2027") > before
    # Nothing crashes deep into the uncovered year either.
    # Wednesday night -> Thursday's opening, then Friday, Monday, Tuesday.
    assert due_after(local("2027-06-30 23:00"), Span.days(3), HOURS).at == local("2027-07-06 09:00")


def test_add_working_days_keeps_the_local_time() -> None:
    # add_working_days (the second half of working_deadline) keeps its meaning: same local time, N working days on.
    assert add_working_days(local("2026-03-13 20:00"), 1) == (local("2026-03-16 20:00"), False)
    assert add_working_days(local("2026-03-13 20:00"), 0) == (local("2026-03-13 20:00"), False)


def test_wall_clock_minutes_run_around_the_clock() -> None:
    # Emergency spans ignore the calendar: 15 minutes on a holiday night are 15 minutes.
    start = local("2026-02-17 02:10")
    due = due_after(start, Span.minutes(15), HOURS)
    assert (due.at, due.estimated) == (start + timedelta(minutes=15), False)


def test_warning_at_eighty_percent() -> None:
    start, due = local("2026-03-16 09:00"), local("2026-03-16 19:00")
    assert warn_at(start, due, 0.8) == local("2026-03-16 17:00")
    assert warn_at(due, start, 0.8) is None
