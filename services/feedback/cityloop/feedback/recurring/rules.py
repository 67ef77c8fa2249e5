"""When a place has a recurring problem: pure rules, no I/O.

Repeated requests (new tickets, 并单 duplicates included) or repeated dissatisfaction (callbacks answered
not solved or 不满意) about one place and one category within a window flag a recurring problem. The place
is the grid when the location was resolved that far, else the street.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RecurringPolicy:
    window: timedelta = timedelta(days=30)
    #: Requests about one place and category within the window that make a recurring problem.
    requests: int = 3
    #: Dissatisfied callbacks about one place and category within the window.
    dissatisfied: int = 2


DEFAULT = RecurringPolicy()


@dataclass(frozen=True)
class Place:
    level: str  # grid | street
    code: str


def place_of(grid: str | None, street: str | None) -> Place | None:
    if grid:
        return Place("grid", grid)
    if street:
        return Place("street", street)
    return None


def is_dissatisfied(solved: bool | None, satisfaction: str | None) -> bool:
    return solved is False or satisfaction == "unsatisfied"


def window_start(now: datetime, converted_at: datetime | None, policy: RecurringPolicy = DEFAULT) -> datetime:
    """Signals count from the window's start, but never from before the last proactive ticket there:
    what was already acted on does not flag the place again."""
    start = now - policy.window
    return max(start, converted_at) if converted_at is not None else start


def verdict(requests: int, dissatisfied: int, policy: RecurringPolicy = DEFAULT) -> str | None:
    """``requests`` or ``dissatisfied`` when the counts make a recurring problem, else None."""
    if dissatisfied >= policy.dissatisfied:
        return "dissatisfied"
    if requests >= policy.requests:
        return "requests"
    return None
