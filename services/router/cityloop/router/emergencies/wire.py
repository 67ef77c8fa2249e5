"""Re-homing's events, built straight as JSON.

A switch sends four or five events per open ticket, hundreds of thousands for a large one; building each
through its pydantic model (and the CloudEvent envelope) cost more than all of the switch's SQL. So the
events are built here as plain dicts and serialised with orjson, and every batch checks the first event
of each type against its registered contract model: the model must read it back to exactly the same
JSON, so a builder that drifts from the contract (a renamed field, a new required one) fails the switch
loudly instead of publishing something else; a new optional field goes out with its default. The
session-end contract check of the integration tests (tests/integration/conftest.py) validates every one of
them again against docs/contract/events.
"""

import functools
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from cityloop.common.contract.emitter import registered
from cityloop.common.contract.registry import ContractError
from cityloop.common.envelope import CloudEvent
from cityloop.common.personal.masking import mask_address
from cityloop.common.personal.redaction import FREE_TEXT, redact

#: (topic, key, event id, serialised CloudEvent): one outbox row (outbox.copy_many).
Row = tuple[str, str, str, bytes]


@functools.cache
def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The model's optional fields with their defaults, as JSON: a field the contract gains (additively, so
    optional) goes on the wire with its default even before a builder here knows it."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if not info.is_required():
            out[name] = to_jsonable_python(info.get_default(call_default_factory=True))
    return out


def _complete(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    spec = registered(type_)
    full = {**_defaults(spec.data), **data}
    if spec.detail is not None:
        full["detail"] = {**_defaults(spec.detail), **data["detail"]}
    return full


def _check(type_: str, data: dict[str, Any]) -> None:
    model = registered(type_).data
    try:
        again = model.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        raise ContractError(f"{type_}: re-homing built {data!r}, which the contract refuses: {exc}") from exc
    if again != data:
        raise ContractError(f"{type_}: re-homing built {data!r}, but the contract reads it as {again!r}")


#: A switch's summaries, notes and reasons repeat the same few texts for every ticket (and they hold digits,
#: the emergency's id, so each would take the full pattern scan): remembered, not scanned again.
_redact = functools.lru_cache(maxsize=4096)(redact)


#: How ``redacted`` treats a value of exactly this type: 0 leave it, 1 text, 2 walk into it. Other types
#: (subclasses) are told by isinstance, as redact_fields does; this saves two or three isinstance calls per
#: value, over the ~40 values of each of a switch's hundreds of thousands of events.
_KIND: dict[type, int] = {str: 1, dict: 2, list: 2, type(None): 0, bool: 0, int: 0, float: 0}


def _kind(item: Any) -> int:
    kind = _KIND.get(type(item))
    if kind is None:
        kind = 1 if isinstance(item, str) else 2 if isinstance(item, dict | list) else 0
    return kind


def redacted(value: Any) -> Any:
    """What ``redaction.redact_fields`` gives (the Emitter's), copying only what changes: most events carry
    no personal data, and rebuilding every dict of hundreds of thousands of them cost more than the rest
    of their building."""
    if isinstance(value, dict):
        return _redacted_dict(value)
    if isinstance(value, list):
        return _redacted_list(value)
    return value


def _redacted_dict(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for key, item in value.items():
        kind = _kind(item)
        new: Any
        if kind == 1:
            if key not in FREE_TEXT:
                continue
            new = _redact(item)
        elif kind == 2:
            new = _redacted_dict(item) if isinstance(item, dict) else _redacted_list(item)
        else:
            continue
        if new is not item:
            if out is None:
                out = dict(value)
            out[key] = new
    return value if out is None else out


def _redacted_list(value: list[Any]) -> list[Any]:
    # Text directly in a list has no key, so it is never free text (redact_fields leaves it as it is).
    out: list[Any] | None = None
    for i, item in enumerate(value):
        if _kind(item) != 2:
            continue
        new = _redacted_dict(item) if isinstance(item, dict) else _redacted_list(item)
        if new is not item:
            if out is None:
                out = list(value)
            out[i] = new
    return value if out is None else out


def _ids(n: int) -> list[str]:
    """``n`` time-ordered (version 7, RFC 9562) UUIDs as text, from one read of the kernel's random source:
    uuid.uuid4() costs a system call and an object per id. Time first, so that a switch's hundreds of
    thousands of outbox rows add to the end of the unique index on event_id instead of to random pages of
    it (each a page read and, after a checkpoint, a full page image in the WAL); 74 random bits per id."""
    stamp = int(time.time() * 1000).to_bytes(6, "big")
    raw = bytearray(os.urandom(16 * n))
    for i in range(0, 16 * n, 16):
        raw[i : i + 6] = stamp
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x70  # version 7
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122/9562 variant
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


@dataclass
class Wire:
    """The events of one batch, in order, ready for the outbox."""

    source: str
    now: datetime
    rows: list[Row] = field(default_factory=list)
    _checked: set[str] = field(default_factory=set)
    _time: str = ""
    _ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The envelope's time exactly as CloudEvent writes it (RFC 3339, "Z").
        self._time = CloudEvent(source=self.source, type="time", time=self.now).model_dump(mode="json")["time"]

    def add(self, topic: str, type_: str, subject: str, data: dict[str, Any]) -> None:
        data = _complete(type_, data)
        if type_ not in self._checked:
            _check(type_, data)
            self._checked.add(type_)
        if not self._ids:
            self._ids = _ids(1024)
        event_id = self._ids.pop()
        payload = orjson.dumps(
            {
                "specversion": "1.0",
                "id": event_id,
                "source": self.source,
                "type": type_,
                "time": self._time,
                "subject": subject,
                "datacontenttype": "application/json",
                # as the Emitter does: no phone number, ID number, card or e-mail in free text on a topic
                "data": redacted(data),
            }
        )
        self.rows.append((topic, subject, event_id, payload))


# ----------------------------------------------------------------------- data of each type (contract models)


def mode(kind: str, emergency_id: str | None) -> dict[str, Any]:
    """contract.models.TaskMode"""
    return {"kind": kind, "emergency_id": emergency_id}


def chain(district: str | None, street: str | None, community: str | None, grid: str | None) -> dict[str, Any]:
    """contract.models.GridChain"""
    return {"district": district, "street": street, "community": community, "grid": grid}


def task_withdrawn(ticket_id: str, assignment_id: str, dept_code: str, reason: str) -> dict[str, Any]:
    """contract.models.TaskWithdrawn"""
    return {"ticket_id": ticket_id, "assignment_id": assignment_id, "dept_code": dept_code, "reason": reason}


def task_updated(
    ticket_id: str, assignment_id: str, dept_code: str, *, change: str, note: str, task_mode: dict[str, Any]
) -> dict[str, Any]:
    """contract.models.TaskUpdated"""
    return {
        "ticket_id": ticket_id,
        "assignment_id": assignment_id,
        "dept_code": dept_code,
        "change": change,
        "note": note,
        "deadlines": None,
        "mode": task_mode,
    }


def task_assigned(
    *,
    ticket_id: str,
    assignment_id: str,
    dept_code: str,
    role: str,
    category: str,
    category_name: str | None,
    description: str,
    location: dict[str, Any],
    urgency: str,
    task_mode: dict[str, Any],
    citizen: dict[str, Any],
    unit: dict[str, Any] | None,
) -> dict[str, Any]:
    """contract.models.TaskAssigned (effects.task_for builds the same through the model)."""
    return {
        "ticket_id": ticket_id,
        "assignment_id": assignment_id,
        "dept_code": dept_code,
        "role": role,
        "category": category,
        "category_name": category_name,
        "description": description,
        "location": location,
        "urgency": urgency,
        "mode": task_mode,
        "deadlines": None,
        "citizen": citizen,
        "unit": unit,
    }


def task_location(chain_: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """contract.models.TaskLocation from router's stored ticket location (address, lat, lon)."""
    stored = stored or {}
    lat, lon = stored.get("lat"), stored.get("lon")
    return {
        "chain": chain_,
        "address_masked": mask_address(stored.get("address")),
        "lat": float(lat) if lat is not None else None,
        "lon": float(lon) if lon is not None else None,
    }


def citizen(stored: dict[str, Any] | None) -> dict[str, Any]:
    """contract.models.MaskedContact"""
    stored = stored or {}
    return {"name": stored.get("name"), "phone": stored.get("phone"), "contact_ref": stored.get("contact_ref")}


def lifecycle(ticket_id: str, status: str | None, actor: str, summary: str, detail: dict[str, Any]) -> dict[str, Any]:
    """contract.lifecycle.Lifecycle"""
    return {"ticket_id": ticket_id, "status": status, "actor": actor, "summary": summary, "detail": detail}


def dispatched(
    *,
    dept_code: str,
    dept_name: str | None,
    assignment_id: str,
    category: str,
    urgency: str,
    policy: dict[str, Any],
    supervisors: list[str],
    desks: list[str],
    area: dict[str, Any],
    unit: dict[str, Any] | None,
    assists: list[dict[str, Any]],
    case_id: str | None,
    location: dict[str, Any],
    why: dict[str, Any],
    replaces: list[str],
    task_mode: dict[str, Any],
    rehomed: dict[str, Any],
    command_unit: str | None,
    emergency_deadlines: dict[str, Any] | None,
) -> dict[str, Any]:
    """contract.lifecycle.Dispatched of a re-homed ticket."""
    return {
        "replaces": replaces,
        "confirmed_by": None,
        "correction": None,
        "arbitration": None,
        "split_from": None,
        "dept_code": dept_code,
        "dept_area": area,
        "dept_name": dept_name,
        "assignment_id": assignment_id,
        "role": "lead",
        "category": category,
        "urgency": urgency,
        "deadlines": None,
        "reported_at": None,
        "policy": policy,
        "supervisors": supervisors,
        "desks": desks,
        "assists": assists,
        "case_id": case_id,
        "location": location,
        "final": False,
        "why": why,
        "mode": task_mode,
        "command_unit": command_unit,
        "emergency_deadlines": emergency_deadlines,
        "rehomed": rehomed,
        "unit": unit,
    }


def needs_dispatcher(replaces: list[str]) -> dict[str, Any]:
    """contract.lifecycle.NeedsDispatcher of a ticket no unit takes after a switch."""
    return {
        "replaces": replaces,
        "confirmed_by": None,
        "correction": None,
        "arbitration": None,
        "split_from": None,
        "queue_reason": "no_unit",
        "why": None,
        "rejections": None,
        "explanation": None,
    }
