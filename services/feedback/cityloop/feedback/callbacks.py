"""Opening callbacks when a department reports resolution, and recording what the citizen said."""

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.contract.models import LifecycleEvent, TicketStatus, lifecycle_event
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.errors import NotFound
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.feedback import queries
from cityloop.feedback.models import CallbackOutcome, Satisfaction

SOURCE = "/cityloop/feedback"


def _event(
    ticket_id: str, type_: str, status: TicketStatus | None, actor: str, summary: str, **detail: object
) -> CloudEvent:
    return lifecycle_event(
        type_, source=SOURCE, ticket_id=ticket_id, status=status, actor=actor, summary=summary, detail=detail
    )


async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
    if event.type != types.TICKET_RESOLVED:
        return
    data = LifecycleEvent.model_validate(event.data)
    assignment_id = str(data.detail.get("assignment_id") or "") or None
    dept_code = str(data.detail.get("dept_code") or "") or None
    callback_id = await queries.open_callback(conn, data.ticket_id, assignment_id, dept_code, event.time)
    if callback_id is not None:
        await outbox.enqueue(
            conn,
            TICKET_LIFECYCLE.name,
            _event(data.ticket_id, types.CALLBACK_OPENED, None, "feedback", "callback due", callback_id=callback_id),
        )


class NoCallbackDue(NotFound):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no callback is due for ticket {ticket_id}", "ticket_id")


def needs_rehandling(outcome: CallbackOutcome) -> bool:
    """重办 when the citizen says it is not solved or is not satisfied."""
    return not outcome.solved or outcome.satisfaction is Satisfaction.UNSATISFIED


async def record_outcome(conn: Conn, ticket_id: str, outcome: CallbackOutcome) -> bool:
    """Record the callback; returns True when the ticket is reopened for re-handling."""
    callback = await queries.lock_due(conn, ticket_id)
    if callback is None:
        raise NoCallbackDue(ticket_id)
    await queries.record(
        conn,
        callback["id"],
        solved=outcome.solved,
        satisfaction=outcome.satisfaction.value,
        note=outcome.note,
        by=outcome.recorded_by,
    )
    detail = {
        "callback_id": callback["id"],
        "dept_code": callback["dept_code"],
        "assignment_id": callback["assignment_id"],
        "solved": outcome.solved,
        "satisfaction": outcome.satisfaction.value,
    }
    await outbox.enqueue(
        conn,
        TICKET_LIFECYCLE.name,
        _event(ticket_id, types.CALLBACK_RECORDED, None, outcome.recorded_by, "callback recorded", **detail),
    )
    reopen = needs_rehandling(outcome)
    if reopen:
        follow = _event(
            ticket_id,
            types.TICKET_REOPENED,
            TicketStatus.DISPATCHED,
            outcome.recorded_by,
            "reopened for re-handling (重办)",
            **detail,
        )
    else:
        follow = _event(ticket_id, types.TICKET_CLOSED, TicketStatus.CLOSED, outcome.recorded_by, "closed", **detail)
    await outbox.enqueue(conn, TICKET_LIFECYCLE.name, follow)
    return reopen
