"""sla's HTTP bodies (what it reads from Kafka is typed in libs/common/cityloop/common/contract/)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
