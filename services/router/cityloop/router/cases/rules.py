"""并单: does a new ticket repeat an open case (same category, close in place and time)? Pure."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityloop.router.dispatch.rules import Decision
from cityloop.router.masterdata.model import Category, distance_metres


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


def joining(decision: Decision, match: MergeMatch) -> Decision:
    """The decision to route a ticket, explained as joining ``match``'s case instead (a new decision)."""
    return decision.explained(merge={"case_id": match.case_id, "metres": match.metres, "hours": match.hours})
