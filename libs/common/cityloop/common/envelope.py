"""The CloudEvents 1.0 envelope, structured JSON mode, used on every topic (see docs/contract/README.md)."""

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONTENT_TYPE = "application/cloudevents+json"


class EnvelopeError(ValueError):
    """A message on a topic is not a valid CloudEvent; the reason goes to the DLQ header."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _needs_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a UTC offset (RFC 3339)")
        return value

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> "CloudEvent":
        if not raw:
            raise EnvelopeError("empty message")
        try:
            return cls.model_validate(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}" for err in exc.errors()
            )
            raise EnvelopeError(f"not a CloudEvent: {problems}") from exc


_TYPE_KEY = b'"type":"'


def peek_type(raw: bytes | None) -> str | None:
    """The top-level ``type`` of a serialised CloudEvent read without parsing it, or None when it cannot be
    told that cheaply (then parse). For skipping the events a consumer or a metric does not need: parsing
    and validating each cost far more than the event is worth to them (a re-homing puts hundreds of
    thousands on ticket.lifecycle). Sound for compact JSON: an unescaped ``"type":"`` is a key with a string
    value, and with no ``{`` or ``[`` before it (past the opening brace) it is not inside a nested value."""
    if not raw or raw[:1] != b"{":
        return None
    at = raw.find(_TYPE_KEY)
    if at < 0:
        return None
    before = raw[1:at]
    if b"{" in before or b"[" in before:
        return None
    start = at + len(_TYPE_KEY)
    end = raw.find(b'"', start)
    if end < 0:
        return None
    value = raw[start:end]
    if b"\\" in value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None
