"""What a department's reply may do to its assignment: the transition tables (lead and 协办) and the
check of the reply itself. Pure: a reply that may not apply raises Refused, which sends it to the DLQ."""

from pydantic import ValidationError

from cityloop.common.contract import types
from cityloop.common.contract.models import DeptExtensionRequested, DeptRejected, DeptUpdate, TicketStatus
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused

_MODELS: dict[str, type[DeptUpdate]] = {
    types.DEPT_REJECTED: DeptRejected,
    types.DEPT_EXTENSION_REQUESTED: DeptExtensionRequested,
}

# assignment status -> update type -> (new assignment status, lifecycle type, ticket status)
_LEAD: dict[str, dict[str, tuple[str, str, TicketStatus | None]]] = {
    "assigned": {
        types.DEPT_ACCEPTED: ("accepted", types.TICKET_ACCEPTED, TicketStatus.ACCEPTED),
        types.DEPT_REJECTED: ("rejected", types.TICKET_REJECTED, None),
    },
    "accepted": {
        types.DEPT_PROGRESS: ("accepted", types.TICKET_PROGRESS, None),
        types.DEPT_EXTENSION_REQUESTED: ("accepted", types.TICKET_EXTENSION_REQUESTED, None),
        types.DEPT_RESOLVED: ("resolved", types.TICKET_RESOLVED, TicketStatus.RESOLVED),
    },
    # 重办 (rehandle/flows.py): the same lead handles it again; no 退单 of a task it already resolved once.
    "reopened": {
        types.DEPT_ACCEPTED: ("accepted", types.TICKET_ACCEPTED, TicketStatus.ACCEPTED),
        types.DEPT_PROGRESS: ("reopened", types.TICKET_PROGRESS, None),
        types.DEPT_RESOLVED: ("resolved", types.TICKET_RESOLVED, TicketStatus.RESOLVED),
    },
}
# An assisting department's steps are progress on the ticket, never its status (the lead answers the citizen).
_ASSIST: dict[str, dict[str, tuple[str, str, TicketStatus | None]]] = {
    "assigned": {
        types.DEPT_ACCEPTED: ("accepted", types.TICKET_PROGRESS, None),
        types.DEPT_REJECTED: ("rejected", types.TICKET_REJECTED, None),
    },
    "accepted": {
        types.DEPT_PROGRESS: ("accepted", types.TICKET_PROGRESS, None),
        types.DEPT_EXTENSION_REQUESTED: ("accepted", types.TICKET_PROGRESS, None),
        types.DEPT_RESOLVED: ("resolved", types.TICKET_PROGRESS, None),
    },
}


def transition(status: str, update_type: str, role: str = "lead") -> tuple[str, str, TicketStatus | None]:
    """Pure: what an update does to an assignment in ``status``; raises Refused when it may not."""
    allowed = (_LEAD if role == "lead" else _ASSIST).get(status, {})
    if update_type not in allowed:
        raise Refused(f"{update_type} is not allowed on an assignment that is {status}")
    return allowed[update_type]


def parse(event: CloudEvent) -> DeptUpdate:
    if event.type not in types.DEPT_UPDATE_TYPES:
        raise Refused(f"unknown department update type {event.type!r}")
    try:
        update = _MODELS.get(event.type, DeptUpdate).model_validate(event.data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors())
        raise Refused(f"invalid {event.type}: {problems}") from exc
    if event.type == types.DEPT_REJECTED and not update.suggested_dept:
        raise Refused("invalid cityloop.dept.rejected: suggested_dept: a rejection (退单) must name the owner")
    return update
