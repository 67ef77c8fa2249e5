from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class CallbackOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    solved: bool
    satisfaction: Satisfaction
    note: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(min_length=1, max_length=64)


class CallbackOut(BaseModel):
    id: int
    ticket_id: str
    dept_code: str | None
    status: str
    opened_at: datetime
    solved: bool | None
    satisfaction: Satisfaction | None
