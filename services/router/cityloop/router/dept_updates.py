"""Replies from departments' systems on ``dept.updates``: checked against the assignment, then applied.

An update from a department that does not hold the assignment, or one that makes no sense in the
assignment's state, is refused to the DLQ with the reason and changes nothing.
"""

from pydantic import ValidationError

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.models import (
    DeptExtensionRequested,
    DeptRejected,
    DeptUpdate,
    TicketStatus,
)
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.router import queries
from cityloop.router.dispatch import lifecycle

_MODELS: dict[str, type[DeptUpdate]] = {
    types.DEPT_REJECTED: DeptRejected,
    types.DEPT_EXTENSION_REQUESTED: DeptExtensionRequested,
}

# assignment status -> update type -> (new assignment status, lifecycle type, ticket status)
_TRANSITIONS: dict[str, dict[str, tuple[str, str, TicketStatus | None]]] = {
    "assigned": {
        types.DEPT_ACCEPTED: ("accepted", types.TICKET_ACCEPTED, TicketStatus.ACCEPTED),
        types.DEPT_REJECTED: ("rejected", types.TICKET_REJECTED, TicketStatus.NEEDS_DISPATCHER),
    },
    "accepted": {
        types.DEPT_PROGRESS: ("accepted", types.TICKET_PROGRESS, None),
        types.DEPT_EXTENSION_REQUESTED: ("accepted", types.TICKET_EXTENSION_REQUESTED, None),
        types.DEPT_RESOLVED: ("resolved", types.TICKET_RESOLVED, TicketStatus.RESOLVED),
    },
}


def transition(status: str, update_type: str) -> tuple[str, str, TicketStatus | None]:
    """Pure: what an update does to an assignment in ``status``; raises Refused when it may not."""
    allowed = _TRANSITIONS.get(status, {})
    if update_type not in allowed:
        raise Refused(f"{update_type} is not allowed on an assignment that is {status}")
    return allowed[update_type]


def parse(event: CloudEvent) -> DeptUpdate:
    if event.type not in types.DEPT_UPDATE_TYPES:
        raise Refused(f"unknown department update type {event.type!r}")
    try:
        return _MODELS.get(event.type, DeptUpdate).model_validate(event.data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors())
        raise Refused(f"invalid {event.type}: {problems}") from exc


async def on_dept_update(conn: Conn, event: CloudEvent) -> None:
    update = parse(event)
    assignment = await queries.lock_assignment(conn, update.assignment_id)
    if assignment is None or assignment["ticket_id"] != update.ticket_id:
        raise Refused(f"no assignment {update.assignment_id} for ticket {update.ticket_id}")
    if assignment["dept_code"] != update.dept_code:
        raise Refused(f"department {update.dept_code} does not hold assignment {update.assignment_id}")
    new_status, lifecycle_type, ticket_status = transition(assignment["status"], event.type)
    await queries.set_assignment_status(conn, update.assignment_id, new_status)
    if ticket_status is not None:
        await queries.set_ticket_status(conn, update.ticket_id, ticket_status.value)
    detail: dict[str, object] = {"dept_code": update.dept_code, "assignment_id": update.assignment_id}
    for name in ("note", "reason", "suggested_dept"):
        if value := getattr(update, name):
            detail[name] = value
    if update.requested_deadline:
        detail["requested_deadline"] = update.requested_deadline.isoformat()
    summary = f"{update.dept_code}: {event.type.rsplit('.', 1)[-1]}" + (f" — {update.note}" if update.note else "")
    ev = lifecycle(update.ticket_id, lifecycle_type, ticket_status, summary, **detail)
    await outbox.enqueue(conn, TICKET_LIFECYCLE.name, ev)
