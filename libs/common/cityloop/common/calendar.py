"""China's official working-day calendar (holidays and 调休 make-up working days) and office hours.

Backed by ``chinese-calendar`` (1.11.0 covers 2004-2026; it tracks the State Council's yearly notice,
published each November for the next year). ``holidays`` 0.108 was checked as an alternative: for 2027
it computes the statutory holidays by rule but knows no 调休 make-up working days, so it would be just
as much a guess. For a year the library does not cover, working days fall back to Monday-Friday and
every answer says so (``estimated``); a metric counts such answers and a warning is logged once per year,
so nothing crashes on 1 January before the library's next release and operators see why.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog
from prometheus_client import Counter, Gauge

CITY_TZ = ZoneInfo("Asia/Shanghai")

log = structlog.get_logger(__name__)

CALENDAR_ESTIMATED = Counter(
    "cityloop_calendar_estimated_days_total",
    "Days judged by the weekends-only fallback because the official calendar does not cover their year",
    ["year"],
)

CALENDAR_COVERED_UNTIL = Gauge(
    "cityloop_calendar_covered_until_timestamp_seconds",
    "End of the last year the official calendar covers (Unix time); the alert asks for next year in December",
)


def last_covered_year() -> int:
    return int(max(day.year for day in (*chinese_calendar.holidays, *chinese_calendar.workdays)))


CALENDAR_COVERED_UNTIL.set(datetime(last_covered_year() + 1, 1, 1, tzinfo=CITY_TZ).timestamp())


@lru_cache(maxsize=16_384)
def _official(day: date) -> bool | None:
    """The official answer, None for a year not covered. Cached: the library validates every date
    against its whole table, which costs more than everything else in a deadline (a firing loop
    computes thousands a second)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def is_covered(day: date) -> bool:
    return _official(day) is not None


@lru_cache(maxsize=8)
def _warn_uncovered(year: int) -> None:
    # lru_cache makes this once per year per process: the alert is the metric, the log says why.
    log.warning("calendar.year_not_covered", year=year, fallback="weekends only", library="chinese-calendar")


def is_workday(day: date) -> tuple[bool, bool]:
    """(is a working day, estimated because the official calendar does not cover that year)."""
    official = _official(day)
    if official is not None:
        return official, False
    CALENDAR_ESTIMATED.labels(str(day.year)).inc()
    _warn_uncovered(day.year)
    return day.weekday() < 5, True


def add_working_days(start: datetime, days: int) -> tuple[datetime, bool]:
    """The same local time ``days`` working days after ``start``; (deadline, estimated)."""
    local = start.astimezone(CITY_TZ)
    day = local.date()
    estimated = False
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        working, guessed = is_workday(day)
        estimated = estimated or guessed
        if working:
            remaining -= 1
    return datetime.combine(day, local.timetz()), estimated


@dataclass(frozen=True)
class OfficeHours:
    """When departments work on a working day (local time). Requests outside them wait for the next opening."""

    opens: time = time(9, 0)
    closes: time = time(17, 30)


def next_opening(moment: datetime, hours: OfficeHours) -> tuple[datetime, bool]:
    """``moment`` itself if it falls within office hours of a working day, else the next opening.

    Returns (local datetime, estimated)."""
    local = moment.astimezone(CITY_TZ)
    day = local.date()
    working, estimated = is_workday(day)
    if working and hours.opens <= local.time() < hours.closes:
        return local, estimated
    if not (working and local.time() < hours.opens):
        day += timedelta(days=1)
        working, guessed = is_workday(day)
        estimated = estimated or guessed
        while not working:
            day += timedelta(days=1)
            working, guessed = is_workday(day)
            estimated = estimated or guessed
    return datetime.combine(day, hours.opens, tzinfo=CITY_TZ), estimated


def working_deadline(start: datetime, days: int, hours: OfficeHours | None = None) -> tuple[datetime, bool]:
    """``days`` working days from ``start``, counted from the first office moment at or after it.

    A request at 15:00 on a Friday is due 15:00 on the next working day; one at 20:00 on a Friday
    counts from Monday's opening. Returns (deadline, estimated)."""
    opened, estimated = next_opening(start, hours or OfficeHours())
    due, guessed = add_working_days(opened, days)
    return due, estimated or guessed
