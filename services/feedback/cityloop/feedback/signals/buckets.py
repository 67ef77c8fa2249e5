"""Hot-spot counting, pure: hour and day buckets in the city's time zone, and the periods the API serves.

A hot-spot key is one (level, area, category): level ``street``, ``district`` or ``grid``. Its state is a
handful of counters per hour (the last two days) and per local calendar day (the last two months), enough
for every period the API serves and the period before it, so the trend is always computable.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.calendar import CITY_TZ
from cityloop.feedback.signals.sightings import Sighting

Level = Literal["street", "district", "grid"]
Period = Literal["day", "week", "month"]
Kind = Literal["hour", "day"]

HOUR = 3600
KEEP_HOURS = 48  # a day and the day before it
KEEP_DAYS = 62  # a month of 30 days and the month before it, plus a margin for late events


def hour_start(at: datetime) -> datetime:
    return at.astimezone(CITY_TZ).replace(minute=0, second=0, microsecond=0)


def day_start(at: datetime) -> datetime:
    return at.astimezone(CITY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CITY_TZ)


class HotspotKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    district: str
    area: str
    category: str

    def text(self) -> str:
        return f"{self.level}|{self.district}|{self.area}|{self.category}"

    @classmethod
    def parse(cls, text: str) -> "HotspotKey":
        level, district, area, category = text.split("|", 3)
        return cls.model_validate({"level": level, "district": district, "area": area, "category": category})


def keys_of(sighting: Sighting) -> list[HotspotKey]:
    """The hot-spot keys a sighting counts towards: its district, street and grid, where known."""
    areas: list[tuple[Level, str | None]] = [
        ("district", sighting.district),
        ("street", sighting.street),
        ("grid", sighting.grid),
    ]
    return [
        HotspotKey(level=level, district=sighting.district, area=area, category=sighting.category)
        for level, area in areas
        if area
    ]


class HotspotCounts(BaseModel):
    """Tickets per bucket start (epoch seconds) for one key."""

    hours: dict[int, int] = Field(default_factory=dict)
    days: dict[int, int] = Field(default_factory=dict)


def counted(state: HotspotCounts, at: datetime) -> HotspotCounts:
    """The state with one more ticket at ``at``; buckets too old to serve any period are dropped."""
    hour = int(hour_start(at).timestamp())
    day = int(day_start(at).timestamp())
    hours = dict(state.hours)
    days = dict(state.days)
    hours[hour] = hours.get(hour, 0) + 1
    days[day] = days.get(day, 0) + 1
    newest_hour = max(hours)
    newest_day = max(days)
    return HotspotCounts(
        hours={h: n for h, n in hours.items() if h > newest_hour - KEEP_HOURS * HOUR},
        days={d: n for d, n in days.items() if d > newest_day - KEEP_DAYS * 24 * HOUR},
    )


@dataclass(frozen=True)
class Window:
    """A period ending at ``as_of``: its buckets, and the same number of buckets just before it."""

    kind: Kind
    buckets: tuple[datetime, ...]
    previous: tuple[datetime, ...]
    #: where the last bucket ends (the next hour, or the next local midnight)
    end: datetime

    @property
    def start(self) -> datetime:
        return self.buckets[0]

    @property
    def previous_start(self) -> datetime:
        return self.previous[0]


def window(period: Period, as_of: datetime) -> Window:
    """day: the last 24 hours in hour buckets (the current hour included); week and month: the last 7 and
    30 local calendar days (today included)."""
    if period == "day":
        end = hour_start(as_of)
        hours = [end - timedelta(hours=i) for i in range(47, -1, -1)]
        return Window("hour", tuple(hours[24:]), tuple(hours[:24]), end + timedelta(hours=1))
    n = 7 if period == "week" else 30
    today = as_of.astimezone(CITY_TZ).date()
    days = [local_midnight(today - timedelta(days=i)) for i in range(2 * n - 1, -1, -1)]
    return Window("day", tuple(days[n:]), tuple(days[:n]), local_midnight(today + timedelta(days=1)))


def series(state: HotspotCounts, w: Window) -> tuple[list[int], int]:
    """The counts per bucket of the window, and the total of the window before it."""
    source = state.hours if w.kind == "hour" else state.days
    current = [source.get(int(b.timestamp()), 0) for b in w.buckets]
    previous = sum(source.get(int(b.timestamp()), 0) for b in w.previous)
    return current, previous
