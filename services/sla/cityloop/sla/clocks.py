"""Opening and closing clocks as the ticket moves (from ``ticket.lifecycle``)."""

from datetime import datetime, timedelta

from cityloop.common import outbox
from cityloop.common.calendar import add_working_days
from cityloop.common.contract import types
from cityloop.common.contract.models import Deadlines, LifecycleEvent
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent, new_event
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.sla import queries
from cityloop.sla.policy import warn_at
from cityloop.sla.settings import SlaSettings

SOURCE = "/cityloop/sla"


def sla_event(ticket_id: str, type_: str, summary: str, **detail: object) -> CloudEvent:
    return new_event(
        type_,
        source=SOURCE,
        subject=ticket_id,
        data=LifecycleEvent(ticket_id=ticket_id, actor="sla", summary=summary, detail=detail),
    )


async def on_lifecycle(conn: Conn, event: CloudEvent, settings: SlaSettings) -> None:
    if event.type not in {
        types.TICKET_DISPATCHED,
        types.TICKET_ACCEPTED,
        types.TICKET_RESOLVED,
        types.TICKET_CLOSED,
    }:
        return
    data = LifecycleEvent.model_validate(event.data)
    ticket_id = data.ticket_id
    assignment_id = str(data.detail.get("assignment_id") or "") or None
    dept_code = str(data.detail.get("dept_code") or "") or None
    if event.type == types.TICKET_DISPATCHED:
        deadlines = Deadlines.model_validate(data.detail.get("deadlines") or {})
        opened = {}
        for kind, due in (("accept", deadlines.accept_by), ("resolve", deadlines.resolve_by)):
            if due is None:
                continue
            await _open(
                conn,
                ticket_id=ticket_id,
                assignment_id=assignment_id,
                dept_code=dept_code,
                kind=kind,
                started=event.time,
                due=due,
                settings=settings,
            )
            opened[kind] = due.isoformat()
        await outbox.enqueue(
            conn,
            TICKET_LIFECYCLE.name,
            sla_event(ticket_id, types.SLA_DEADLINES_SET, "deadlines set", deadlines=opened, dept_code=dept_code),
        )
    elif event.type == types.TICKET_ACCEPTED:
        await _meet(conn, ticket_id, "accept")
    elif event.type == types.TICKET_RESOLVED:
        await _meet(conn, ticket_id, "resolve")
        due, _ = add_working_days(event.time, settings.callback_days)
        await _open(
            conn,
            ticket_id=ticket_id,
            assignment_id=assignment_id,
            dept_code=dept_code,
            kind="callback",
            started=event.time,
            due=due,
            settings=settings,
        )
    elif event.type == types.TICKET_CLOSED:
        await _meet(conn, ticket_id, "callback")


async def _open(
    conn: Conn,
    *,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    kind: str,
    started: datetime,
    due: datetime,
    settings: SlaSettings,
) -> None:
    warn = warn_at(started, due, settings.warn_ratio) if due - started > timedelta(0) else None
    await queries.open_clock(
        conn,
        ticket_id=ticket_id,
        assignment_id=assignment_id,
        dept_code=dept_code,
        kind=kind,
        started_at=started,
        warn_at=warn,
        due_at=due,
    )


async def _meet(conn: Conn, ticket_id: str, kind: str) -> None:
    for clock in await queries.close_clocks(conn, ticket_id, kind):
        late = clock["closed_at"] > clock["due_at"]
        await outbox.enqueue(
            conn,
            TICKET_LIFECYCLE.name,
            sla_event(
                ticket_id,
                types.SLA_DEADLINE_MET,
                f"{kind} deadline {'met late' if late else 'met'}",
                kind=kind,
                due_at=clock["due_at"].isoformat(),
                late=late,
            ),
        )
