"""Data carried by contract events (the ``data`` member of the CloudEvent)."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityloop.common.clean_text import strip_controls


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"


class TicketStatus(StrEnum):
    RECEIVED = "received"
    NEEDS_DISPATCHER = "needs_dispatcher"
    HANDED_OVER = "handed_over"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ContractData(BaseModel):
    # Additive contract: readers ignore fields they do not know yet.
    model_config = ConfigDict(extra="ignore")


class GridChain(ContractData):
    """A location resolved down the five levels; the missing tail stays None."""

    district: str | None = None
    street: str | None = None
    community: str | None = None
    grid: str | None = None


class TaskLocation(ContractData):
    chain: GridChain = Field(default_factory=GridChain)
    address_masked: str | None = None
    lat: float | None = None
    lon: float | None = None


class TaskUnit(ContractData):
    """五级应用: the residents' committee (level ``community``) or grid team (level ``grid``) a task is for.
    Such units have no topic of their own: the task travels on their street platform's topic
    (``dept.<street code>.tasks``, ``dept_code`` the street's code), whose system forwards it to the unit
    and accepts, reports or rejects on the unit's behalf."""

    level: Literal["community", "grid"]
    code: str
    name: str
    #: The unit's own place: its street, its community and, for a grid team, its grid.
    chain: GridChain


class TaskMode(ContractData):
    kind: Literal["peacetime", "emergency"] = "peacetime"
    emergency_id: str | None = None


class Deadlines(ContractData):
    """A task's deadlines, as sla computed them (sla owns every deadline; see services/sla/README.md)."""

    accept_by: datetime | None = None
    resolve_by: datetime | None = None
    #: 到场: on site by (urgent and critical tickets).
    on_site_by: datetime | None = None
    #: True when a year the official calendar does not cover was counted weekends-only; None when the
    #: event does not say (a ladder step names only its own clock's deadline).
    estimated: bool | None = None


class MaskedContact(ContractData):
    """The citizen as events carry them: masked, never in full (the vault in intake holds the data)."""

    name: str | None = None
    phone: str | None = None
    #: Opaque reference to the citizen, the same for every ticket of one phone number; opens nothing.
    contact_ref: str | None = None


class TaskAssigned(ContractData):
    ticket_id: str
    assignment_id: str
    dept_code: str
    role: Literal["lead", "assist"]
    category: str
    category_name: str | None = None
    description: str
    location: TaskLocation
    urgency: Urgency
    mode: TaskMode = Field(default_factory=TaskMode)
    #: Deprecated, not to be relied on: sla owns deadlines and follows every task with
    #: ``cityloop.task.updated`` (change ``deadline_set``) carrying the ones it computed. Kept, optional,
    #: so the contract stays additive.
    deadlines: Deadlines | None = None
    citizen: MaskedContact = Field(default_factory=MaskedContact)
    #: Set when the task is for a community or grid unit, received by its street's platform.
    unit: TaskUnit | None = None


class TaskUpdated(ContractData):
    ticket_id: str
    assignment_id: str
    dept_code: str
    change: str  # deadline_moved, mode_changed, merged, urged, supervised ...
    note: str | None = None
    deadlines: Deadlines | None = None
    mode: TaskMode | None = None
    #: ``forwarded``: the community or grid unit the task is now for (五级应用).
    unit: TaskUnit | None = None


class TaskWithdrawn(ContractData):
    ticket_id: str
    assignment_id: str
    dept_code: str
    reason: str


class DeptUpdate(ContractData):
    """Any ``cityloop.dept.*`` event from a department's system."""

    ticket_id: str = Field(min_length=1)
    assignment_id: str = Field(min_length=1)
    dept_code: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=4000)
    reason: str | None = Field(default=None, max_length=2000)
    suggested_dept: str | None = None
    requested_deadline: datetime | None = None
    #: ``cityloop.dept.progress``: the crew reached the site (到场), which meets the on-site deadline.
    on_site: bool | None = None

    @field_validator("note", "reason")
    @classmethod
    def _stored_clean(cls, value: str | None) -> str | None:
        # A department's text reaches the trail, PostgreSQL and the Open311 XML feed: its control characters
        # are stripped here, at the Kafka edge, as input_guard.py strips them at the HTTP edge (a NUL made
        # intake's trail dead-letter the valid ticket.accepted that carried it).
        return None if value is None else strip_controls(value)


class DeptRejected(DeptUpdate):
    """退单: the reason is required. So is a suggested owner in peacetime (routing needs somewhere to send
    it; router refuses a 退单 without one to the DLQ); under an emergency the 退单 is a note to the command
    and the task stays (先行处置), so it may leave the owner out."""

    reason: str = Field(min_length=1, max_length=2000)
    suggested_dept: str | None = Field(default=None, min_length=1)

    @field_validator("reason")
    @classmethod
    def _says_why(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rejection (退单) must say why")
        return value


class DeptExtensionRequested(DeptUpdate):
    requested_deadline: datetime


class DeptForwarded(DeptUpdate):
    """五级应用: a street's platform (``dept_code``, the street's code) hands its task to one of its
    residents' committees or grid teams, which it then answers for."""

    #: The code of a community or a grid of the platform's street.
    unit: str = Field(min_length=1, max_length=64)


class TicketLocation(ContractData):
    address: str | None = None
    lat: float | None = None
    lon: float | None = None


class TicketSnapshot(ContractData):
    """The ticket as announced by ``cityloop.ticket.created`` (``detail``): what routing needs, masked."""

    channel: str
    category: str | None = None
    description: str
    location: TicketLocation
    urgency: Urgency = Urgency.NORMAL
    citizen: MaskedContact = Field(default_factory=MaskedContact)
    created_at: datetime
