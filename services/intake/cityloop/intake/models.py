"""HTTP models of intake: what operators and apps send, what they get back."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from cityloop.common.contract.models import TicketStatus, Urgency


class Channel(StrEnum):
    HOTLINE = "hotline"
    WEB = "web"
    APP = "app"
    OPEN311 = "open311"
    DEPARTMENT = "department"


class Citizen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9-]{5,20}$")
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$")
    address: str | None = Field(default=None, max_length=300)
    is_company: bool = False


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(default=None, max_length=300, description="Where the problem is")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _somewhere(self) -> "Location":
        if not self.address and (self.lat is None or self.lon is None):
            raise ValueError("give an address, or both lat and lon")
        return self


class TicketCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channel": "hotline",
                    "citizen": {"name": "张三", "phone": "13812341234"},
                    "category": "sanitation.garbage",
                    "description": "小区门口垃圾三天没人清运，气味很大",
                    "location": {"address": "浦东新区花木街道锦绣路1001号"},
                    "urgency": "normal",
                }
            ]
        },
    )

    channel: Channel
    citizen: Citizen = Field(default_factory=Citizen)
    category: str | None = Field(default=None, max_length=64)
    description: str = Field(min_length=1, max_length=4000)
    location: Location
    urgency: Urgency = Urgency.NORMAL
    attachments: list[AnyHttpUrl] = Field(default_factory=list, max_length=20)
    operator: str | None = Field(default=None, max_length=64)


class TicketOut(BaseModel):
    id: str
    channel: Channel
    status: TicketStatus
    category: str | None
    description: str
    location: dict[str, Any]
    urgency: Urgency
    dept_code: str | None
    citizen: Citizen
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class TimelineEntry(BaseModel):
    seq: int
    event_id: str
    type: str
    time: datetime
    actor: str
    summary: str
    status: TicketStatus | None
    detail: dict[str, Any]
