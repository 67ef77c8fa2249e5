"""Emergency mode (平战结合) on ``control.mode``: what an emergency is, as every service reads it.

``control.mode`` is compacted and keyed by the emergency id (the CloudEvent ``subject``): the latest event
of each emergency is its state, so a service that starts reads the topic to its end and knows every
emergency in force. Each event carries the whole emergency, never a diff, for that reason.
"""

from datetime import datetime
from typing import Literal

from pydantic import Field

from cityloop.common.contract import types
from cityloop.common.contract.models import ContractData
from cityloop.common.contract.registry import CONTROL_MODE, register

Level = Literal["I", "II", "III", "IV"]
#: I is the most severe (national practice: I 特别重大 … IV 一般): a lower rank wins an overlap.
LEVEL_RANK: dict[str, int] = {"I": 1, "II": 2, "III": 3, "IV": 4}


class EmergencyScope(ContractData):
    """Where it applies: the whole city, or these districts and/or streets (a street inside a listed
    district adds nothing)."""

    city: bool = False
    districts: list[str] = Field(default_factory=list)
    streets: list[str] = Field(default_factory=list)


class EmergencyDeadlines(ContractData):
    """Wall-clock minutes, around the clock, counted from the moment a task reaches the department."""

    accept_minutes: int = Field(gt=0)
    onsite_minutes: int = Field(gt=0)
    resolve_minutes: int = Field(gt=0)


class Emergency(ContractData):
    id: str
    name: str
    level: Level
    scope: EmergencyScope
    categories: list[str]
    #: an operations centre (城运中心) of the city or of a district: it leads every in-scope ticket
    command_unit: str
    #: category -> the departments that get every in-scope ticket of that category at once (联勤联动)
    participants: dict[str, list[str]] = Field(default_factory=dict)
    deadlines: EmergencyDeadlines
    declared_by: str
    declared_at: datetime
    #: the proposal (surge detection) it was confirmed from, if any
    proposal_id: str | None = None
    stood_down_at: datetime | None = None
    stood_down_by: str | None = None
    #: bumped by every change; a reader keeps the highest it saw
    version: int = 1

    @property
    def active(self) -> bool:
        return self.stood_down_at is None


class EmergencyDeclared(Emergency):
    """``cityloop.mode.emergency_declared``."""


class EmergencyUpdated(Emergency):
    """``cityloop.mode.emergency_updated``: the emergency as it is after the change."""

    changed: list[str] = Field(default_factory=list)


class EmergencyStoodDown(Emergency):
    """``cityloop.mode.emergency_stood_down``: stood_down_at/by are set."""


class Rehomed(ContractData):
    """On a ``cityloop.ticket.dispatched`` that moved an open ticket because an emergency was declared,
    changed or stood down (not a new routing)."""

    reason: Literal["emergency declared", "emergency updated", "stand-down"]
    from_emergency: str | None = None
    to_emergency: str | None = None


register(
    types.MODE_EMERGENCY_DECLARED,
    EmergencyDeclared,
    topics=CONTROL_MODE,
    description="An emergency was declared (router); keyed by emergency id, the whole emergency.",
)
register(
    types.MODE_EMERGENCY_UPDATED,
    EmergencyUpdated,
    topics=CONTROL_MODE,
    description="An emergency's scope, categories, participants or deadlines changed (router); the whole emergency.",
)
register(
    types.MODE_EMERGENCY_STOOD_DOWN,
    EmergencyStoodDown,
    topics=CONTROL_MODE,
    description="An emergency was stood down (router); keyed by emergency id, its final state.",
)
