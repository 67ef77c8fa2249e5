"""sla's boundary models: what it reads from other services' lifecycle events, and its HTTP bodies."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityloop.common.contract.emergencies import EmergencyDeadlines
from cityloop.common.contract.models import TaskMode, Urgency


class _Incoming(BaseModel):
    # Other services add fields over time; a missing optional one must not stop the clocks.
    model_config = ConfigDict(extra="ignore")


class CataloguePolicy(_Incoming):
    accept_days: int | None = Field(default=None, ge=0)
    resolve_days: int | None = Field(default=None, ge=0)


class AssistDetail(_Incoming):
    dept_code: str
    assignment_id: str


class DispatchDetail(_Incoming):
    """``cityloop.ticket.dispatched`` detail as the router sends it; every field tolerated missing. Router
    sends what the catalogue says and no deadlines: sla computes every one (a ``deadlines`` member, if an
    old producer still sends one, is ignored)."""

    dept_code: str | None = None
    assignment_id: str | None = None
    #: When the citizen reported the ticket: urgent clocks count from it (``Policy.counts_from``).
    reported_at: datetime | None = None
    category: str | None = None
    urgency: Urgency | None = None
    policy: CataloguePolicy = Field(default_factory=CataloguePolicy)
    #: Department codes up the jurisdiction chain (street -> district -> city), for 督办.
    supervisors: list[str] = Field(default_factory=list)
    mode: TaskMode = Field(default_factory=TaskMode)
    command_unit: str | None = None
    #: Under an emergency: its wall-clock minutes (accept, on site, resolve), declared by the command centre.
    emergency_deadlines: EmergencyDeadlines | None = None
    #: Assisting departments (协办) dispatched together with the lead: told the same deadlines.
    assists: list[AssistDetail] = Field(default_factory=list)

    @field_validator("urgency", mode="before")
    @classmethod
    def _unknown_urgency_is_none(cls, value: object) -> object:
        return value if value in {u.value for u in Urgency} or isinstance(value, Urgency) else None

    @field_validator("supervisors", "assists", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return value or []


class OwnerDetail(_Incoming):
    """The assignment an event is about (accepted, rejected, resolved, reopened ...)."""

    dept_code: str | None = None
    assignment_id: str | None = None
    #: ``cityloop.ticket.progress``: the department's crew reached the site (到场).
    on_site: bool = False


class ExtensionRequestDetail(OwnerDetail):
    requested_deadline: datetime
    note: str | None = None


# --- HTTP -------------------------------------------------------------------------------------------


class ClockView(BaseModel):
    id: int
    ticket_id: str
    kind: str
    state: str
    assignment_id: str | None
    dept_code: str | None
    category: str | None
    mode: str
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    #: The deadline was counted weekends-only for a year the official calendar does not cover yet.
    estimated: bool
    breached: bool
    next_step: str | None
    next_fire_at: datetime | None
    closed_at: datetime | None
    moves: int


class TicketDeadlines(BaseModel):
    ticket_id: str
    clocks: list[ClockView]


class ExtensionView(BaseModel):
    id: int
    ticket_id: str
    clock_id: int
    kind: str
    assignment_id: str | None
    dept_code: str | None
    current_deadline: datetime
    requested_deadline: datetime
    requested_at: datetime
    note: str | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    granted_deadline: datetime | None


class ApproveExtension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Grant a different (earlier) deadline than requested; the requested one when omitted.
    deadline: datetime | None = None
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("deadline")
    @classmethod
    def _needs_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("deadline must carry a UTC offset (RFC 3339)")
        return value


class RejectExtension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rejection must say why")
        return value
