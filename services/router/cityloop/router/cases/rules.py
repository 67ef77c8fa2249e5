"""并单: does a new ticket repeat an open case (same category, close in place and time)? Pure."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityloop.router.dispatch.rules import Decision
from cityloop.router.masterdata.model import EARTH_RADIUS_METRES, Category, distance_metres


@dataclass(frozen=True)
class OpenCase:
    case_id: str
    category: str
    point: tuple[float, float] | None
    opened_at: datetime


@dataclass(frozen=True)
class MergeMatch:
    case_id: str
    metres: float
    hours: float


def find_case(
    category: Category, point: tuple[float, float] | None, at: datetime, cases: Sequence[OpenCase]
) -> MergeMatch | None:
    """The nearest open case of the same category within the category's distance and time window.

    Without a point (a location known only to the street) nothing merges: "close in place" needs a place.
    """
    if not category.merges or point is None:
        return None
    best: MergeMatch | None = None
    window = timedelta(hours=category.merge_hours)
    for case in cases:
        if case.category != category.code or case.point is None:
            continue
        # Either way round: tickets are routed side by side (several partitions, replicas), so a near-duplicate
        # created a moment later may have opened the case before this one was routed.
        age = abs(at - case.opened_at)
        if age > window:
            continue
        metres = distance_metres(point, case.point)
        if metres <= category.merge_metres and (best is None or metres < best.metres):
            best = MergeMatch(case.case_id, round(metres, 1), round(age.total_seconds() / 3600, 2))
    return best


@dataclass(frozen=True)
class SearchBox:
    """Latitude and longitude bounds (degrees) holding every point within some metres of a centre."""

    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float


def search_box(point: tuple[float, float], metres: float) -> SearchBox:
    """Bounds that hold every point within ``metres`` of ``point``, a little wider (1 %), so the database
    hands over only the open cases that could be near (an index range) and find_case decides on the exact
    distance. Without it each ticket read every open case of its category in the merge window: hundreds
    of rows per ticket within minutes of load, all under the category's case lock (store.lock_category)."""
    lat, lon = point
    reach = metres * 1.01 / EARTH_RADIUS_METRES  # radians of arc
    dlat = math.degrees(reach)
    # East-west, a degree is shortest at the box's latitude furthest from the equator.
    widest = min(90.0, abs(lat) + dlat)
    cos_lat = math.cos(math.radians(widest))
    dlon = 180.0 if cos_lat < 1e-9 else math.degrees(reach / cos_lat)
    if dlon >= 180.0 or lon - dlon < -180.0 or lon + dlon > 180.0:
        lon_min, lon_max = -180.0, 180.0  # round a pole or across the date line: no bound east-west
    else:
        lon_min, lon_max = lon - dlon, lon + dlon
    return SearchBox(max(-90.0, lat - dlat), min(90.0, lat + dlat), lon_min, lon_max)


def joining(decision: Decision, match: MergeMatch) -> Decision:
    """The decision to route a ticket, explained as joining ``match``'s case instead (a new decision)."""
    return decision.explained(merge={"case_id": match.case_id, "metres": match.metres, "hours": match.hours})
