"""督办 desk's HTTP bodies."""

import datetime as dt
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field


class SupervisionView(BaseModel):
    """One late task on a desk. ``id`` is the supervision's (the late clock's) id."""

    id: int
    ticket_id: str
    dept_code: str | None
    assignment_id: str | None
    category: str | None
    kind: str
    #: The deadline that was missed, or the supervised deadline the desk set since.
    due_at: datetime
    desk: str
    level: int
    desks: list[str]
    status: str
    opened_at: datetime
    escalated_from: str | None
    urges: int
    last_note: str | None
    supervised_deadline: datetime | None
    closed_at: datetime | None
    closed_by: str | None


class UrgeBody(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="what the department is told")


class DeadlineBody(BaseModel):
    deadline: AwareDatetime = Field(description="the supervised deadline (限期), in the future")
    note: str | None = Field(default=None, max_length=2000)


class NoteBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class NoticeItem(BaseModel):
    dept_code: str
    #: 通报 steps fired for this department's late tasks in the period
    notices: int
    tickets: int
    first_at: datetime
    last_at: datetime


class NoticeStats(BaseModel):
    """通报 for chronic lateness: per department and period (the city's days)."""

    period: str
    date: dt.date
    first_day: dt.date
    last_day: dt.date
    items: list[NoticeItem]
