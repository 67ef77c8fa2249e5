from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class Hotspot(BaseModel):
    rank: int
    level: Literal["street", "district", "grid"]
    area: str
    district: str
    category: str
    category_group: str
    #: tickets in the period, and in the period of the same length just before it
    count: int
    previous: int
    change: int
    #: change ÷ previous; None when there were none before (a new hot spot)
    change_ratio: float | None
    #: counts per bucket of the period, oldest first (24 hours for a day, 7 or 30 days otherwise)
    trend: list[int]


class HotspotWindow(BaseModel):
    bucket: Literal["hour", "day"]
    start: datetime
    end: datetime
    previous_start: datetime


class HotspotsOut(BaseModel):
    period: Literal["day", "week", "month"]
    level: Literal["street", "district", "grid"]
    as_of: datetime
    window: HotspotWindow
    #: the most tickets first
    items: list[Hotspot]
    #: the fastest rising first (largest increase over the previous period)
    rising: list[Hotspot]
