"""Scoring's HTTP bodies (what it reads from Kafka is typed in libs/common/cityloop/common/contract/)."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

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
