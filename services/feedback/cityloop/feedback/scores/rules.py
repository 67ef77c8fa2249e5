"""三率 arithmetic: pure functions over plain data, no I/O.

A *fact* is one thing that counts: a lead task that had an accept deadline (响应), or one completed
callback (解决, 满意). Each fact has a state; a fact's contribution to the counters of its day is a
function of that state alone, so when a fact changes state the aggregate rows get the difference
(``delta``) and stay equal to a sum over the facts.
"""

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from enum import StrEnum

from cityloop.common.calendar import CITY_TZ

#: 基本满意 counts as satisfied in full: the city's formula is (满意 + 基本满意) / callbacks completed.
#: A deployment that wants it discounted changes this one number (tests cover 0.8 as well).
BASICALLY_SATISFIED_WEIGHT = 1.0

#: The composite used for the ranking, as in Beijing's 接诉即办 assessment: 响应率 10 %, 解决率 45 %,
#: 满意率 45 %. A rate with no denominator is left out and the other weights are scaled up.
RANK_WEIGHTS = {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45}


class Level(StrEnum):
    DEPARTMENT = "department"
    STREET = "street"
    DISTRICT = "district"
    CITY = "city"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Mode(StrEnum):
    PEACETIME = "peacetime"
    EMERGENCY = "emergency"


class TaskState(StrEnum):
    PENDING = "pending"  # accept deadline not reached, not accepted yet: not decided, not counted
    ON_TIME = "on_time"  # accepted within the accept deadline: numerator and denominator
    LATE = "late"  # deadline breached (accepted late or not at all): denominator only
    CANCELLED = "cancelled"  # the assignment ended before acceptance (退单, re-dispatch): not counted
    EXCLUDED = "excluded"  # the ticket is excluded (handed over, merged): not counted


class Exclusion(StrEnum):
    """Why a ticket or a callback is left out of every rate."""

    CONSULTATION = "consultation"  # answered on the spot (直接答复): nobody was asked to do anything
    HANDED_OVER = "handed_over"  # 110/119/120/122 took it
    MERGED = "merged"  # a duplicate merged into a case (并单): the case counts once
    UNREACHABLE = "unreachable"  # the citizen could not be reached: no answer to count


CITY_KEY = "city"


@dataclass(frozen=True)
class Counts:
    """The counters kept per (level, key, mode, day); also a fact's contribution and a difference."""

    assigned: int = 0  # tasks whose response is decided (on time or late)
    responded: int = 0  # of those, accepted within the accept deadline
    pending: int = 0  # tasks still before their accept deadline
    callbacks: int = 0  # callbacks completed (not excluded)
    solved: int = 0
    satisfied: int = 0  # 满意
    basically: int = 0  # 基本满意
    unsatisfied: int = 0  # 不满意
    unreachable: int = 0  # excluded from the rates; reported so the exclusion is visible

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def is_zero(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in fields(self))

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


COUNTERS = tuple(f.name for f in fields(Counts))
ZERO = Counts()


def task_counts(state: TaskState | None) -> Counts:
    if state is TaskState.ON_TIME:
        return Counts(assigned=1, responded=1)
    if state is TaskState.LATE:
        return Counts(assigned=1)
    if state is TaskState.PENDING:
        return Counts(pending=1)
    return ZERO


@dataclass(frozen=True)
class CallbackFact:
    solved: bool | None
    satisfaction: str | None  # satisfied | basically_satisfied | unsatisfied
    excluded: Exclusion | None


def callback_counts(fact: CallbackFact | None) -> Counts:
    if fact is None:
        return ZERO
    if fact.excluded is Exclusion.UNREACHABLE:
        return Counts(unreachable=1)
    if fact.excluded is not None:
        return ZERO
    return Counts(
        callbacks=1,
        solved=int(bool(fact.solved)),
        satisfied=int(fact.satisfaction == "satisfied"),
        basically=int(fact.satisfaction == "basically_satisfied"),
        unsatisfied=int(fact.satisfaction == "unsatisfied"),
    )


def task_transition(current: TaskState, event: str, *, late: bool = False) -> TaskState:
    """The state after an sla event about the accept clock: ``met`` (with ``late``), ``breached``,
    ``cancelled``. Decided states stay decided: a task breached and accepted later stays late, one
    cancelled after its breach stays counted as late."""
    if current is not TaskState.PENDING:
        return current
    if event == "met":
        return TaskState.LATE if late else TaskState.ON_TIME
    if event == "breached":
        return TaskState.LATE
    if event == "cancelled":
        return TaskState.CANCELLED
    raise ValueError(f"unknown accept-clock event {event!r}")


def city_day(moment: datetime) -> date:
    """The day a moment belongs to, in the city's own time zone (a score's day is a Shanghai day)."""
    return moment.astimezone(CITY_TZ).date()


def period_days(period: Period, day: date) -> tuple[date, date]:
    """First and last day of the day, ISO week (Monday-Sunday) or calendar month containing ``day``."""
    if period is Period.DAY:
        return day, day
    if period is Period.WEEK:
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def keys_for(level: Level, *, dept_code: str | None, street: str | None, district: str | None) -> str | None:
    """The item a fact counts towards at ``level``; None when the fact does not know that level."""
    if level is Level.DEPARTMENT:
        return dept_code
    if level is Level.STREET:
        return street
    if level is Level.DISTRICT:
        return district
    return CITY_KEY


@dataclass(frozen=True)
class Rates:
    response: float | None
    resolution: float | None
    satisfaction: float | None
    satisfaction_numerator: float


def _ratio(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def rates(c: Counts, *, basically_weight: float = BASICALLY_SATISFIED_WEIGHT) -> Rates:
    satisfied = c.satisfied + basically_weight * c.basically
    return Rates(
        response=_ratio(c.responded, c.assigned),
        resolution=_ratio(c.solved, c.callbacks),
        satisfaction=_ratio(satisfied, c.callbacks),
        satisfaction_numerator=satisfied,
    )


def composite(r: Rates, weights: dict[str, float] = RANK_WEIGHTS) -> float | None:
    present = {
        k: v
        for k, v in (("response", r.response), ("resolution", r.resolution), ("satisfaction", r.satisfaction))
        if v is not None
    }
    if not present:
        return None
    total = sum(weights[k] for k in present)
    return sum(weights[k] * v for k, v in present.items()) / total


def rank(scores: dict[str, float | None]) -> dict[str, int | None]:
    """Standard competition ranking (1, 2, 2, 4) by descending composite; items without one are unranked."""
    ranked = sorted((s, k) for k, s in scores.items() if s is not None)
    ranked.sort(key=lambda sk: -sk[0])
    out: dict[str, int | None] = dict.fromkeys(scores)
    previous: float | None = None
    position = 0
    for index, (score, key) in enumerate(ranked, start=1):
        if previous is None or score < previous:
            position = index
            previous = score
        out[key] = position
    return out
