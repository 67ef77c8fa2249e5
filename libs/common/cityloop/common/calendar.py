"""China's official working-day calendar (holidays and 调休 make-up working days).

Backed by ``chinese-calendar`` (maintained, tracks the State Council's yearly notice). For a year it
does not cover yet, working days fall back to Monday-Friday and the answer says so (``estimated``), so
nothing crashes on 1 January before the library's next release.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

CITY_TZ = ZoneInfo("Asia/Shanghai")


def is_covered(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> tuple[bool, bool]:
    """(is a working day, estimated because the official calendar does not cover that year)."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
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
