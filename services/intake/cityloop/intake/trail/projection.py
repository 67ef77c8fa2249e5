"""What one ``ticket.lifecycle`` event changes in intake's view of a ticket: a pure function.

Intake keeps, per ticket, the status, the department holding it, every department that ever held it
(the scope of department staff), the grid chain, mode, deadline and notes. It reads each event's typed
``detail`` (libs/common/cityloop/common/contract/lifecycle.py) and nothing else.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import (
    ClockKind,
    DeadlinesSet,
    DeptStep,
    Detail,
    Dispatched,
    Lifecycle,
    Merged,
    Rejected,
    Split,
)
from cityloop.common.contract.models import TicketStatus

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
    #: assignment ids that end (a merged ticket's previous lead, after its case was re-dispatched)
    end_assignments: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def next_status(current: TicketStatus, event_type: str, proposed: TicketStatus | None) -> TicketStatus | None:
    """A closed ticket only moves again when reopened; late events cannot drag it back."""
    if proposed is None or proposed == current:
        return None
    if current == TicketStatus.CLOSED and event_type != types.TICKET_REOPENED:
        return None
    return proposed


def project(event_type: str, data: Lifecycle[Detail], current: TicketStatus) -> TicketChange:
    detail = data.detail
    change = TicketChange(status=next_status(current, event_type, data.status))
    note = detail.note if isinstance(detail, DeptStep) else None
    if change.status is not None:
        change.closed = change.status in TERMINAL
        change.status_notes = note or data.summary
    elif event_type == types.TICKET_PROGRESS and note:
        change.status_notes = note
    if isinstance(detail, Dispatched):
        # Only router's decisions place the ticket and set its mode; others' copies may lag behind.
        chain = detail.location.chain
        change.district, change.street = chain.district, chain.street
        if detail.mode is not None:
            change.mode, change.emergency_id = detail.mode.kind, detail.mode.emergency_id
        change.assign = [
            Assignment(detail.assignment_id, detail.dept_code, detail.role),
            *(Assignment(a.assignment_id, a.dept_code, a.role) for a in detail.assists),
        ]
        if detail.role == "lead":
            change.dept_code = detail.dept_code
            change.agency = detail.dept_name or detail.dept_code
        # Deprecated in the detail (sla owns deadlines): read while an older router still sends it.
        change.resolve_by = detail.deadlines.resolve_by if detail.deadlines else None
        change.overdue = False
    elif isinstance(detail, Merged) and detail.dept_code:
        # Merged (并单): the case's lead department answers this citizen too, so it holds this ticket.
        dept = detail.dept_code
        change.assign = [Assignment(detail.assignment_id or f"{dept}:{data.ticket_id}", dept, "lead")]
        change.dept_code = dept
        change.agency = detail.dept_name or dept
        # The case re-dispatched: the previous lead no longer holds this citizen's ticket.
        change.end_assignments = list(detail.replaces or [])
    elif isinstance(detail, Split):
        change.end_all_assignments = True  # split from a case: it will be routed on its own
        change.release_dept = "*"
    elif isinstance(detail, DeadlinesSet):
        # sla owns deadlines: the ticket shows the ones it set last (a 重办 re-handle-by is a resolve-by).
        stated = detail.deadlines
        change.resolve_by = stated.get(ClockKind.RESOLVE) or stated.get(ClockKind.REHANDLE)
        change.accept_by, change.on_site_by = stated.get(ClockKind.ACCEPT), stated.get(ClockKind.ON_SITE)
    elif event_type == types.SLA_BREACHED:
        change.overdue = True
    elif isinstance(detail, Rejected):
        change.end_assignment = detail.assignment_id
        change.release_dept = detail.dept_code
    if change.closed:
        change.end_all_assignments = True
    return change
