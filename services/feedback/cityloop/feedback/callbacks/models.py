"""HTTP bodies of the callback API (operators) and of the citizen's one-time link."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cityloop.common.contract.callbacks import Satisfaction, UnsatisfiedReason, Verdict
from cityloop.common.personal.redaction import RedactedText


class Answer(BaseModel):
    """What the citizen said: solved or not, how satisfied, why not, and a comment."""

    model_config = ConfigDict(extra="forbid")

    solved: bool
    satisfaction: Satisfaction
    reason: UnsatisfiedReason | None = Field(default=None, description="Required when unsatisfied (不满意)")
    #: Kept and listed redacted (phone numbers, ID numbers, cards and e-mail addresses masked); the full text
    #: goes only to intake's vault, sealed on the callback.recorded event (flows.record).
    note: str | None = Field(default=None, max_length=2000, description="The citizen's comment")

    @model_validator(mode="after")
    def _reason_when_unsatisfied(self) -> "Answer":
        if self.satisfaction is Satisfaction.UNSATISFIED and self.reason is None:
            raise ValueError("reason: 不满意 must say why, one of " + ", ".join(r.value for r in UnsatisfiedReason))
        return self


class CallbackOutcome(Answer):
    """An operator's record of the call. The actor is the signed-in caller, always."""

    recorded_by: str | None = Field(
        default=None,
        max_length=64,
        deprecated=True,
        description="Ignored (kept so v1 clients are not refused): the actor is the signed identity",
    )


class Reschedule(BaseModel):
    """The citizen could not be reached: try again later (after the attempt limit the callback closes)."""

    model_config = ConfigDict(extra="forbid")

    next_attempt_at: datetime | None = Field(default=None, description="Default: the configured retry delay")
    note: RedactedText | None = Field(default=None, max_length=2000)

    @field_validator("next_attempt_at")
    @classmethod
    def _needs_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("next_attempt_at must carry a UTC offset (RFC 3339)")
        return value


class DueQuery(BaseModel):
    """Query of GET /api/v1/callbacks/due; filters combine with AND."""

    model_config = ConfigDict(extra="forbid")

    district: str | None = Field(default=None, max_length=64)
    dept_code: str | None = Field(default=None, max_length=64, description="The department that resolved")
    overdue: bool | None = Field(default=None, description="Past sla's callback deadline (or not)")
    include_scheduled: bool = Field(default=False, description="Also calls rescheduled to a later time")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class CallbackOut(BaseModel):
    id: int
    ticket_id: str
    dept_code: str | None
    assignment_id: str | None
    status: str
    trigger: str
    round: int
    case_id: str | None
    district: str | None
    street: str | None
    category: str | None
    opened_at: datetime
    due_by: datetime | None = Field(description="sla's callback deadline, once sla has announced it")
    overdue: bool
    attempts: int
    next_attempt_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    solved: bool | None
    satisfaction: Satisfaction | None
    reason: UnsatisfiedReason | None
    verdict: Verdict | None
    note: str | None
    via: str | None
    recorded_by: str | None
    recorded_at: datetime | None


class OutcomeResult(BaseModel):
    ticket_id: str
    callback_id: int
    verdict: Verdict
    #: True when the verdict is 重办 (kept from v1).
    reopened: bool
    escalation_level: int


class RescheduleResult(BaseModel):
    ticket_id: str
    callback_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None


class LinkOut(BaseModel):
    callback_id: int
    url: str = Field(description="The page to send the citizen (SMS); shown once, only its hash is stored")
    api_url: str
    expires_at: datetime


class LinkView(BaseModel):
    """What the public JSON API tells a link's holder."""

    state: str
    expires_at: datetime
    reasons: dict[str, str] = Field(description="Reasons for 不满意 the form offers, code -> label")
