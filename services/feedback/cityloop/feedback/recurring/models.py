from datetime import datetime

from pydantic import BaseModel


class RecurringProblem(BaseModel):
    id: int
    place_level: str
    place: str
    category: str
    district: str | None
    street: str | None
    status: str
    reason: str
    requests: int
    dissatisfied: int
    tickets: list[str]
    first_at: datetime
    last_at: datetime
    dept_code: str | None
    flagged_at: datetime
    converted_at: datetime | None
    converted_by: str | None
    ticket_id: str | None


class ProactiveOut(BaseModel):
    problem_id: int
    ticket_id: str
    created: bool
