"""What a department's reply may do to its assignment: the transition tables (lead and 协办) and the
check of the reply itself. Pure: a reply that may not apply raises Refused, which sends it to the DLQ."""

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import DeptStep, ExtensionRequested, Progress, Rejected
from cityloop.common.contract.models import DeptRejected, DeptUpdate, TicketStatus
from cityloop.common.contract.parsing import parse_as
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused

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
    """The update as its registered model; a missing or wrong field raises SchemaError (to the DLQ)."""
    if event.type not in types.DEPT_UPDATE_TYPES:
        raise Refused(f"unknown department update type {event.type!r}")
    return parse_as(event, DeptUpdate)


def require_owner(update: DeptUpdate) -> None:
    """A peacetime 退单 must name the owner it suggests: routing needs somewhere to send the ticket. (Under
    an emergency it need not: the task stays and the 退单 is a note to the command, emergencies/flows.py.)"""
    if isinstance(update, DeptRejected) and update.suggested_dept is None:
        raise Refused("suggested_dept: required for a 退单 outside an emergency (routing needs a suggested owner)")


def step_detail(lifecycle_type: str, update: DeptUpdate, role: str, what: str) -> DeptStep:
    """Pure: the trail's detail for an applied update (lifecycle type from ``transition``)."""
    step = DeptStep(
        dept_code=update.dept_code,
        assignment_id=update.assignment_id,
        role="lead" if role == "lead" else "assist",
        note=update.note or None,
        # An assisting department's steps all read as progress: say which one it was.
        update=what if role == "assist" else None,
    )
    if isinstance(update, DeptRejected):
        return Rejected(**step.model_dump(), reason=update.reason, suggested_dept=update.suggested_dept)
    if lifecycle_type == types.TICKET_EXTENSION_REQUESTED and update.requested_deadline is not None:
        return ExtensionRequested(**step.model_dump(), requested_deadline=update.requested_deadline)
    if lifecycle_type == types.TICKET_PROGRESS:
        # on_site (到场): sla meets the on-site clock.
        return Progress(
            **step.model_dump(), requested_deadline=update.requested_deadline, on_site=update.on_site or None
        )
    return step
