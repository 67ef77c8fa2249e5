"""Scoring's boundary models: the parts of other services' lifecycle events it reads, and its HTTP bodies."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityloop.common.contract.models import GridChain, TaskMode


class _Incoming(BaseModel):
    # Producers add fields over time; what scoring does not read must not stop it.
    model_config = ConfigDict(extra="ignore")


class DeptArea(_Incoming):
    level: str | None = None
    district: str | None = None
    street: str | None = None


class PlaceDetail(_Incoming):
    chain: GridChain = Field(default_factory=GridChain)


class DispatchedDetail(_Incoming):
    """``cityloop.ticket.dispatched``: the lead, the category and the place of the ticket."""

    dept_code: str | None = None
    assignment_id: str | None = None
    category: str | None = None
    location: PlaceDetail = Field(default_factory=PlaceDetail)
    mode: TaskMode | None = None
    #: Where the lead department itself sits (additive field from router, may be absent).
    dept_area: DeptArea | None = None


class DeadlinesSetDetail(_Incoming):
    """``cityloop.sla.deadlines_set``: the deadlines sla opened for one assignment."""

    deadlines: dict[str, dt.datetime] = Field(default_factory=dict)
    dept_code: str | None = None
    assignment_id: str | None = None
    mode: Literal["peacetime", "emergency"] = "peacetime"

    @field_validator("mode", mode="before")
    @classmethod
    def _unknown_mode_is_peacetime(cls, value: object) -> object:
        return value if value in {"peacetime", "emergency"} else "peacetime"


class ClockDetail(_Incoming):
    """``cityloop.sla.deadline_met`` / ``breached`` / ``deadline_cancelled``: one clock of one assignment."""

    kind: str
    late: bool = False
    dept_code: str | None = None
    assignment_id: str | None = None


class CallbackDetail(_Incoming):
    """``cityloop.callback.recorded`` / ``cityloop.callback.unreachable``."""

    callback_id: str | int
    dept_code: str | None = None
    assignment_id: str | None = None
    solved: bool | None = None
    satisfaction: Literal["satisfied", "basically_satisfied", "unsatisfied"] | None = None
    #: Some producers say ``outcome: unreachable`` on a recorded callback instead of a type of its own.
    outcome: str | None = None


# --- HTTP -------------------------------------------------------------------------------------------


class ScoreItem(BaseModel):
    key: str = Field(description="department code, street code, district code, or 'city'")
    response_rate: float | None = Field(description="响应率: accepted within the accept deadline / tasks decided")
    response_numerator: int
    response_denominator: int
    resolution_rate: float | None = Field(description="解决率: callbacks answered solved / callbacks completed")
    resolution_numerator: int
    resolution_denominator: int
    satisfaction_rate: float | None = Field(description="满意率: (满意 + w x 基本满意) / callbacks completed")
    satisfaction_numerator: float
    satisfaction_denominator: int
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    pending_response: int = Field(description="tasks still before their accept deadline: not counted yet")
    unreachable_callbacks: int = Field(description="callbacks closed as unreachable: excluded, shown for the record")
    composite: float | None = Field(description="10 % 响应率 + 45 % 解决率 + 45 % 满意率, the ranking score")
    rank: int | None
    tickets: str = Field(description="the drill-down: every ticket counted in these numerators and denominators")


class ScoresOut(BaseModel):
    by: str
    period: str
    mode: str
    date: dt.date
    first_day: dt.date
    last_day: dt.date
    basically_satisfied_weight: float
    items: list[ScoreItem]


class CountedTicket(BaseModel):
    ticket_id: str
    fact: Literal["task", "callback"]
    ref: str = Field(description="the assignment id (task) or the callback id")
    dept_code: str | None
    day: dt.date
    counts_in: list[str] = Field(description="e.g. response_denominator, response_numerator, ...")
    state: str | None = None
    solved: bool | None = None
    satisfaction: str | None = None
    satisfaction_weight: float | None = None


class CountedPage(BaseModel):
    items: list[CountedTicket]
    next_cursor: str | None
