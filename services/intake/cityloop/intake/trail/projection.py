"""What one ``ticket.lifecycle`` event changes in intake's view of a ticket: a pure function.

Intake keeps, per ticket, the status, the department holding it, every department that ever held it
(the scope of department staff), the grid chain, mode, deadline and notes. It reads only what producers
put in ``detail`` (documented in services/intake/README.md) and ignores what it does not know.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cityloop.common.contract import types
from cityloop.common.contract.models import GridChain, LifecycleEvent, TicketStatus

#: Router's decisions about where a ticket goes (the only events that set its place and mode).
ROUTING_EVENTS = frozenset({types.TICKET_DISPATCHED, types.TICKET_MERGED})
#: Statuses after which the ticket leaves every department's hands.
TERMINAL = frozenset({TicketStatus.CLOSED, TicketStatus.HANDED_OVER})


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    dept_code: str
    role: str


@dataclass
class TicketChange:
    status: TicketStatus | None = None
    closed: bool = False
    #: The new lead department; None leaves it.
    dept_code: str | None = None
    #: This department no longer holds the ticket (it rejected it): clear it if it is the current one;
    #: "*" clears whichever department it is.
    release_dept: str | None = None
    agency: str | None = None
    district: str | None = None
    street: str | None = None
    mode: str | None = None
    emergency_id: str | None = None
    resolve_by: datetime | None = None
    #: sla's accept and on-site (到场) deadlines of the current owner.
    accept_by: datetime | None = None
    on_site_by: datetime | None = None
    overdue: bool | None = None
    status_notes: str | None = None
    assign: list[Assignment] = field(default_factory=list)
    end_assignment: str | None = None  # an assignment id, or a dept code when the id is unknown
    end_all_assignments: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class _Deadlines(BaseModel):
    model_config = ConfigDict(extra="ignore")
    resolve_by: datetime | None = None
    # sla's deadlines_set spells them by clock kind
    resolve: datetime | None = None
    rehandle: datetime | None = None
    accept: datetime | None = None
    on_site: datetime | None = None


def _chain(detail: dict[str, Any]) -> GridChain | None:
    raw = detail.get("chain")
    location = detail.get("location")
    if raw is None and isinstance(location, dict):
        raw = location.get("chain")
    if not isinstance(raw, dict):
        return None
    try:
        return GridChain.model_validate(raw)
    except ValidationError:
        return None


def _deadlines(detail: dict[str, Any]) -> _Deadlines:
    raw = detail.get("deadlines")
    if not isinstance(raw, dict):
        return _Deadlines()
    try:
        return _Deadlines.model_validate(raw)
    except ValidationError:
        return _Deadlines()


def _resolve_by(detail: dict[str, Any]) -> datetime | None:
    deadlines = _deadlines(detail)
    return deadlines.resolve_by or deadlines.resolve or deadlines.rehandle


def _mode(detail: dict[str, Any]) -> tuple[str | None, str | None]:
    raw = detail.get("mode")
    if isinstance(raw, str) and raw in {"peacetime", "emergency"}:
        return raw, None
    if isinstance(raw, dict) and raw.get("kind") in {"peacetime", "emergency"}:
        emergency = raw.get("emergency_id")
        return str(raw["kind"]), str(emergency) if emergency else None
    return None, None


def _assists(detail: dict[str, Any]) -> list[Assignment]:
    """Assisting departments (协办) dispatched together with the lead: they hold the ticket too."""
    raw = detail.get("assists")
    if not isinstance(raw, list):
        return []
    return [
        Assignment(str(a.get("assignment_id") or a["dept_code"]), str(a["dept_code"]), str(a.get("role") or "assist"))
        for a in raw
        if isinstance(a, dict) and a.get("dept_code")
    ]


def next_status(current: TicketStatus, event_type: str, proposed: TicketStatus | None) -> TicketStatus | None:
    """A closed ticket only moves again when reopened; late events cannot drag it back."""
    if proposed is None or proposed == current:
        return None
    if current == TicketStatus.CLOSED and event_type != types.TICKET_REOPENED:
        return None
    return proposed


def project(event_type: str, data: LifecycleEvent, current: TicketStatus) -> TicketChange:
    detail = data.detail
    change = TicketChange(status=next_status(current, event_type, data.status))
    if change.status is not None:
        change.closed = change.status in TERMINAL
        note = detail.get("note")
        change.status_notes = str(note) if note else data.summary
    elif event_type == types.TICKET_PROGRESS and detail.get("note"):
        change.status_notes = str(detail["note"])
    dept = str(detail.get("dept_code") or "") or None
    if event_type in ROUTING_EVENTS:
        # Only router's decisions place the ticket and set its mode; others' copies may lag behind.
        if chain := _chain(detail):
            change.district, change.street = chain.district, chain.street
        change.mode, change.emergency_id = _mode(detail)
    if event_type in {types.TICKET_DISPATCHED, types.TICKET_MERGED} and dept:
        # Merged (并单): the case's lead department answers this citizen too, so it holds this ticket.
        role = str(detail.get("role") or "lead")
        assignment_id = str(detail.get("assignment_id") or f"{dept}:{data.ticket_id}")
        change.assign = [Assignment(assignment_id, dept, role), *_assists(detail)]
        if role == "lead":
            change.dept_code = dept
            name = detail.get("dept_name")
            change.agency = str(name) if name else dept
        change.resolve_by = _resolve_by(detail)
        change.overdue = False if event_type == types.TICKET_DISPATCHED else None
    elif event_type == types.TICKET_SPLIT:
        change.end_all_assignments = True  # split from a case: it will be routed on its own
        change.release_dept = "*"
    elif event_type == types.SLA_DEADLINES_SET:
        # sla owns deadlines: the ticket shows the ones it set last (a 重办 re-handle-by is a resolve-by).
        change.resolve_by = _resolve_by(detail)
        sla = _deadlines(detail)
        change.accept_by, change.on_site_by = sla.accept, sla.on_site
    elif event_type == types.SLA_BREACHED:
        change.overdue = True
    elif event_type == types.TICKET_REJECTED and dept:
        change.end_assignment = str(detail.get("assignment_id") or dept)
        change.release_dept = dept
    if change.closed:
        change.end_all_assignments = True
    return change
