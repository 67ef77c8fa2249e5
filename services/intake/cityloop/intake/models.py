"""HTTP models of intake: what operators and apps send, what they get back."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from cityloop.common.contract.models import TicketStatus, Urgency
from cityloop.common.identity import Role
from cityloop.common.personal.validation import id_number, phone_e164


class Channel(StrEnum):
    HOTLINE = "hotline"
    WEB = "web"
    APP = "app"
    OPEN311 = "open311"
    DEPARTMENT = "department"
    PROACTIVE = "proactive"  # 主动发现: raised by the city itself, e.g. from a recurring problem


class Mode(StrEnum):
    PEACETIME = "peacetime"
    EMERGENCY = "emergency"


class Citizen(BaseModel):
    """Who asked: a person or a company (企业). Everything here is personal data, stored apart."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(
        default=None, max_length=30, description="A valid Chinese phone number (mobile or landline, +86 optional)"
    )
    id_number: str | None = Field(
        default=None, max_length=18, description="居民身份证号码 (18 characters, checksum verified)"
    )
    address: str | None = Field(default=None, max_length=300, description="The citizen's own address")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    is_company: bool = False
    company: str | None = Field(default=None, max_length=200, description="Company name when is_company")

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str | None) -> str | None:
        if value is not None:
            phone_e164(value)  # ValueError -> 422 naming citizen.phone
            return value.strip()
        return value

    @field_validator("id_number")
    @classmethod
    def _valid_id_number(cls, value: str | None) -> str | None:
        return None if value is None else id_number(value)

    @model_validator(mode="after")
    def _company_named(self) -> "Citizen":
        if self.is_company and not self.company:
            raise ValueError("company: a company (is_company) needs its name")
        if self.company and not self.is_company:
            raise ValueError("is_company: must be true when a company name is given")
        return self


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str | None = Field(default=None, min_length=1, max_length=300, description="Where the problem is")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _somewhere(self) -> "Location":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lon: give both lat and lon, or neither")
        if not self.address and self.lat is None:
            raise ValueError("address: give an address, or both lat and lon")
        return self


class DirectAnswer(BaseModel):
    """直接答复: the operator answered a consultation on the spot; the ticket is created closed."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=4000, description="What the citizen was told")


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
                    "attachments": ["https://files.example.cn/photos/1.jpg"],
                },
                {
                    "channel": "hotline",
                    "citizen": {"name": "李四", "phone": "13900001111"},
                    "description": "咨询居住证办理需要哪些材料",
                    "location": {"address": "黄浦区"},
                    "direct_answer": {"answer": "已告知所需材料及办理地点"},
                },
            ]
        },
    )

    channel: Channel
    citizen: Citizen = Field(default_factory=Citizen)
    category: str | None = Field(default=None, min_length=1, max_length=64, description="Optional: router classifies")
    description: str = Field(min_length=1, max_length=4000)
    location: Location
    urgency: Urgency = Urgency.NORMAL
    attachments: list[AnyHttpUrl] = Field(default_factory=list, max_length=20)
    operator: str | None = Field(
        default=None, max_length=64, description="The operator's id in the call-centre system, if not the caller"
    )
    direct_answer: DirectAnswer | None = None


class CitizenOut(BaseModel):
    name: str | None
    phone: str | None
    id_number: str | None
    address: str | None
    email: str | None
    is_company: bool
    company: str | None
    masked: bool = Field(description="True when personal fields are masked for this caller")
    #: The same for every ticket of one phone number, opens nothing (the vault's keyed hash).
    contact_ref: str | None = Field(default=None, description="Opaque reference to the citizen (repeat callers)")


class TicketOut(BaseModel):
    id: str
    channel: Channel
    status: TicketStatus
    category: str | None
    description: str
    location: Location
    urgency: Urgency
    attachments: list[str]
    attributes: dict[str, Any]
    dept_code: str | None
    agency: str | None
    district: str | None
    street: str | None
    mode: Mode
    emergency_id: str | None
    resolve_by: datetime | None
    #: Accept by, and on site by (urgent and critical tickets), as sla set them.
    accept_by: datetime | None = None
    on_site_by: datetime | None = None
    overdue: bool
    status_notes: str | None
    direct_answer: str | None
    operator: str | None
    created_by: str | None
    citizen: CitizenOut
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    #: Released with the personal data only: the full text of the trail's redacted free text (a department's
    #: note, a callback comment), by event id and the field's path on it (e.g. ``detail.note``).
    released_texts: dict[str, dict[str, str]] | None = Field(
        default=None, description="Full text of the timeline's redacted notes and comments; only when released"
    )


class TicketFilters(BaseModel):
    """Query of GET /api/v1/tickets. Every filter is optional; they combine with AND."""

    model_config = ConfigDict(extra="forbid")

    status: list[TicketStatus] = Field(default_factory=list, description="Repeat for several")
    category: str | None = Field(default=None, max_length=64)
    dept_code: str | None = Field(default=None, max_length=64, description="The department holding it now")
    district: str | None = Field(default=None, max_length=64)
    street: str | None = Field(default=None, max_length=64)
    channel: Channel | None = None
    urgency: Urgency | None = None
    mode: Mode | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    closed_from: datetime | None = None
    closed_to: datetime | None = None
    overdue: bool | None = None
    q: str | None = Field(default=None, min_length=1, max_length=100, description="Free text in the description")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _ranges(self) -> "TicketFilters":
        for start, end in (("created_from", "created_to"), ("closed_from", "closed_to")):
            lo, hi = getattr(self, start), getattr(self, end)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{start}: must not be after {end}")
        return self


class PhoneLookup(BaseModel):
    """Repeat callers: the tickets of one phone number. A POST body, so the number never sits in a URL
    (URLs end up in access logs and proxies' logs)."""

    model_config = ConfigDict(extra="forbid")

    phone: str = Field(max_length=30, description="Written any usual way: 13812345678, +86 138 1234 5678")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)

    @field_validator("phone")
    @classmethod
    def _valid_phone(cls, value: str) -> str:
        phone_e164(value)
        return value


class TimelineEntry(BaseModel):
    seq: int
    event_id: str
    type: str
    time: datetime
    actor: str
    summary: str
    status: TicketStatus | None
    detail: dict[str, Any]


class AccessLogEntry(BaseModel):
    id: int
    at: datetime
    subject: str
    role: Role
    dept_code: str | None
    ticket_id: str
    fields: list[str]
    purpose: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    subject: str
    role: Role
    dept_code: str | None
