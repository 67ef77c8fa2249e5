"""The spec's rules as pure functions: reading a POST form, checking typed attributes, date windows,
statuses, and turning a ticket into a service request document."""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from pydantic import ValidationError

from cityloop.intake.masking import mask_address, round_coordinate
from cityloop.intake.models import Channel, TicketCreate
from cityloop.intake.open311.documents import Attribute, ServiceRequest

#: GET requests: "a span of 90 days or first 1000 requests returned, whichever is smallest".
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
#: Our field paths -> the Open311 argument the client sent (so errors name what the client knows).
_ARGUMENT = {
    "citizen.name": "first_name/last_name",
    "citizen.phone": "phone",
    "citizen.email": "email",
    "description": "description",
    "location.address": "address_string",
    "location.lat": "lat",
    "location.lon": "long",
    "location": "lat/long",
    "attachments.0": "media_url",
    "category": "service_code",
}


@dataclass
class PostForm:
    """The arguments of POST requests, as sent (strings), attributes gathered by code."""

    fields: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.fields.get(name, "").strip()
        return value or None  # the spec: an empty argument is the same as a missing one


def read_form(items: list[tuple[str, str]]) -> PostForm:
    form = PostForm()
    for name, value in items:
        match = _ATTRIBUTE.match(name)
        if match:
            form.attributes.setdefault(match.group(1), []).append(value)
        else:
            form.fields[name] = value
    return form


def w3(moment: datetime, tz: tzinfo) -> str:
    """W3C date-time with offset, seconds precision: 2026-11-22T09:30:00+08:00."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def parse_w3(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be a W3C date-time, e.g. 2010-01-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must carry a time zone (Z or an offset)")
    return moment


def request_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    if start is None and end is None:
        return now - MAX_SPAN, now
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, min(now, start + MAX_SPAN) if start < now else start
    if start > end:
        raise ValueError("start_date must not be after end_date")
    if end - start > MAX_SPAN:
        raise ValueError("start_date and end_date may not span more than 90 days")
    return start, end


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def statuses(value: str | None) -> list[str]:
    wanted = split_list(value)
    bad = [s for s in wanted if s not in {"open", "closed"}]
    if bad:
        raise ValueError(f"status must be open or closed, not {', '.join(bad)}")
    return wanted


def check_attributes(definitions: list[Attribute], given: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """Typed answers for the service's attributes, or the problems, one description each."""
    problems: list[str] = []
    values: dict[str, Any] = {}
    known = {d.code: d for d in definitions if d.variable}
    for code in given:
        if code not in known:
            problems.append(f"attribute[{code}] is not an attribute of this service")
    for definition in known.values():
        raw = [v for v in given.get(definition.code, []) if v.strip()]
        if not raw:
            if definition.required:
                problems.append(f"attribute[{definition.code}] is required ({definition.description})")
            continue
        value, problem = _typed(definition, raw)
        if problem:
            problems.append(f"attribute[{definition.code}] {problem}")
        else:
            values[definition.code] = value
    return values, problems


def _typed(definition: Attribute, raw: list[str]) -> tuple[Any, str | None]:
    keys = {v.key for v in definition.values}
    if definition.datatype == "multivaluelist":
        unknown = [v for v in raw if v not in keys]
        return raw, (f"has values not in the list: {', '.join(unknown)}" if unknown else None)
    if len(raw) > 1:
        return None, "takes one value"
    value = raw[0].strip()
    if definition.datatype == "singlevaluelist":
        return value, (None if value in keys else f"must be one of {', '.join(sorted(keys))}")
    if definition.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            return None, "must be a number"
        return (int(number) if number.is_integer() else number), None
    if definition.datatype == "datetime":
        try:
            return parse_w3(value, "value").isoformat(), None
        except ValueError as exc:
            return None, str(exc).replace("value ", "")
    if definition.datatype == "string" and ("\n" in value or "\r" in value):
        return None, "must be a single line"
    return value, None


def to_ticket(form: PostForm, service_code: str, service_name: str) -> tuple[TicketCreate | None, list[str]]:
    """The ticket an Open311 POST asks for, or the problems in the arguments (named as the client sent them)."""
    problems: list[str] = []
    lat, long_, address, address_id = (
        form.get("lat"),
        form.get("long"),
        form.get("address_string"),
        form.get("address_id"),
    )
    if (lat is None) != (long_ is None):
        problems.append("lat and long must both be sent")
    if lat is None and address is None:
        problems.append(
            "address_id is not supported here; send lat & long or address_string"
            if address_id
            else "a location is required: lat & long, or address_string"
        )
    if problems:
        return None, problems
    name = "".join(part for part in (form.get("last_name"), form.get("first_name")) if part) or None
    media = form.get("media_url")
    candidate = {
        "channel": Channel.OPEN311.value,
        "citizen": {
            k: v for k, v in {"name": name, "phone": form.get("phone"), "email": form.get("email")}.items() if v
        },
        "category": service_code,
        # The spec makes description optional; a ticket needs one, so the service's name stands in.
        "description": form.get("description") or service_name,
        "location": {k: v for k, v in {"address": address, "lat": lat, "lon": long_}.items() if v is not None},
        "attachments": [media] if media else [],
    }
    try:
        return TicketCreate.model_validate(candidate), []
    except ValidationError as exc:
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            argument = _ARGUMENT.get(path, path)
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{argument}: {message}")
        return None, problems


def outside(lat: float | None, lon: float | None, bbox: tuple[float, float, float, float]) -> bool:
    """Whether a point lies outside the jurisdiction's box (south, west, north, east)."""
    if lat is None or lon is None:
        return False
    south, west, north, east = bbox
    return not (south <= lat <= north and west <= lon <= east)


def open311_status(status: str) -> str:
    return "closed" if status in {"closed", "handed_over"} else "open"


def service_request(row: Any, *, notice: str | None, tz: tzinfo) -> ServiceRequest:
    location = row["location"] or {}
    attachments = list(row["attachments"] or [])
    return ServiceRequest(
        service_request_id=row["id"],
        status="closed" if open311_status(row["status"]) == "closed" else "open",
        status_notes=row["status_notes"],
        service_name=row["service_name"],
        service_code=row["category"],
        description=row["description"],
        agency_responsible=row["agency"],
        service_notice=notice,
        requested_datetime=w3(row["created_at"], tz),
        updated_datetime=w3(row["updated_at"], tz),
        expected_datetime=w3(row["resolve_by"], tz) if row["resolve_by"] else None,
        # Public documents: the exact address and point are personal data (where someone lives).
        address=mask_address(location.get("address")),
        address_id=None,
        zipcode=None,
        lat=round_coordinate(location.get("lat")),
        long=round_coordinate(location.get("lon")),
        media_url=attachments[0] if attachments else None,
    )
