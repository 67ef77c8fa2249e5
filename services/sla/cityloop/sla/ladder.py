"""The escalation ladder of one clock, as pure functions.

Steps, in order: 0 预警 warning (at warn_at), 1 breach and 催办 urge to the department (at the
deadline), then one 督办 supervise step per unit up the jurisdiction chain (street -> district -> city),
or straight to the command unit in an emergency, one ``escalate_every`` apart, and last a 通报 notice of
chronic lateness. A clock stores only the number of its next step and when that step is due.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cityloop.common.calendar import OfficeHours
from cityloop.common.contract.emergencies import Emergency
from cityloop.common.contract.lifecycle import StepKind
from cityloop.sla.deadlines import due_after
from cityloop.sla.policy import Span

WARNING = 0
BREACH = 1
FIRST_ESCALATION = 2


@dataclass(frozen=True)
class Step:
    number: int
    kind: StepKind
    #: Who is addressed: the supervising unit or the command unit (None for the department itself).
    target: str | None = None
    #: 1 for the first unit up the chain, 2 for the next ...
    level: int | None = None


def in_force(
    mode: str, command_unit: str | None, covering: Emergency | None, active: Sequence[Emergency]
) -> tuple[str, str | None]:
    """The mode and command unit a clock escalates by now, from the emergencies in force (control.mode)
    rather than only from what its dispatch said: under ``covering`` (in force where the ticket is, for its
    category) straight to that command unit, even before re-homing has reached the ticket; a clock set
    under an emergency whose command no longer leads one in force (stood down, re-homing not there yet)
    climbs the peacetime chain."""
    if covering is not None:
        return "emergency", covering.command_unit
    if mode == "emergency" and command_unit not in {e.command_unit for e in active if e.active}:
        return "peacetime", None
    return mode, command_unit


def chain(supervisors: list[str], command_unit: str | None, mode: str) -> list[str]:
    """The units the ladder climbs after the breach."""
    if mode == "emergency" and command_unit:
        return [command_unit]
    return list(supervisors)


def describe(number: int, units: list[str], mode: str) -> Step | None:
    """Step ``number`` of a ladder over ``units``; None past the end."""
    if number == WARNING:
        return Step(WARNING, StepKind.WARNING)
    if number == BREACH:
        return Step(BREACH, StepKind.BREACH)
    index = number - FIRST_ESCALATION
    if index < len(units):
        kind = StepKind.COMMAND if mode == "emergency" else StepKind.SUPERVISE
        return Step(number, kind, target=units[index], level=index + 1)
    if index == len(units):
        return Step(number, StepKind.NOTICE)
    return None


def first_step(warn_at: datetime | None, due_at: datetime) -> tuple[int, datetime]:
    """Where a freshly opened (or moved) clock starts: at its warning, or at the breach if none."""
    if warn_at is not None and warn_at < due_at:
        return WARNING, warn_at
    return BREACH, due_at


def after(
    number: int,
    scheduled_at: datetime,
    *,
    due_at: datetime,
    units: list[str],
    mode: str,
    every: Span,
    hours: OfficeHours,
) -> tuple[int, datetime] | None:
    """The step after ``number`` (fired, due at ``scheduled_at``) and when it is due; None when done."""
    following = number + 1
    if describe(following, units, mode) is None:
        return None
    if following == BREACH:
        return BREACH, due_at
    return following, due_after(max(scheduled_at, due_at), every, hours).at
