"""Dispatching a new ticket: route it, record the assignment, send the task and announce it."""

import uuid
from datetime import datetime

from cityloop.common import outbox
from cityloop.common.calendar import add_working_days
from cityloop.common.contract import types
from cityloop.common.contract.models import (
    Deadlines,
    LifecycleEvent,
    TaskAssigned,
    TaskLocation,
    TicketSnapshot,
    TicketStatus,
)
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent, new_event
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks
from cityloop.router import queries
from cityloop.router.routing import Catalogue, Decision, RoutingTicket, route

SOURCE = "/cityloop/router"
ACTOR = "router"


def lifecycle(ticket_id: str, type_: str, status: TicketStatus | None, summary: str, **detail: object) -> CloudEvent:
    return new_event(
        type_,
        source=SOURCE,
        subject=ticket_id,
        data=LifecycleEvent(ticket_id=ticket_id, status=status, actor=ACTOR, summary=summary, detail=detail),
    )


async def on_ticket_created(conn: Conn, event: CloudEvent, catalogue: Catalogue) -> None:
    data = LifecycleEvent.model_validate(event.data)
    snapshot = TicketSnapshot.model_validate(data.detail)
    await queries.upsert_ticket(
        conn,
        {
            "ticket_id": data.ticket_id,
            "category": snapshot.category,
            "description": snapshot.description,
            "location": snapshot.location.model_dump(mode="json"),
            "urgency": snapshot.urgency.value,
            "citizen": snapshot.citizen.model_dump(mode="json"),
            "status": TicketStatus.RECEIVED.value,
            "created_at": snapshot.created_at,
        },
    )
    decision = route(RoutingTicket(data.ticket_id, snapshot.category, snapshot.location.address), catalogue)
    await apply_decision(conn, data.ticket_id, snapshot, decision, now=event.time)


async def apply_decision(
    conn: Conn, ticket_id: str, snapshot: TicketSnapshot, decision: Decision, *, now: datetime
) -> None:
    if decision.outcome == "handover":
        await queries.set_ticket_status(conn, ticket_id, TicketStatus.HANDED_OVER.value)
        await outbox.enqueue(
            conn,
            TICKET_LIFECYCLE.name,
            lifecycle(
                ticket_id,
                types.TICKET_HANDED_OVER,
                TicketStatus.HANDED_OVER,
                f"handed over to {decision.handover_to}",
                handover_to=decision.handover_to,
                why=decision.why,
            ),
        )
        return
    if decision.outcome != "dispatch" or decision.lead is None or decision.category is None:
        await queries.set_ticket_status(conn, ticket_id, TicketStatus.NEEDS_DISPATCHER.value)
        await outbox.enqueue(
            conn,
            TICKET_LIFECYCLE.name,
            lifecycle(
                ticket_id,
                types.TICKET_NEEDS_DISPATCHER,
                TicketStatus.NEEDS_DISPATCHER,
                "needs a dispatcher",
                why=decision.why,
            ),
        )
        return
    lead, category = decision.lead, decision.category
    accept_by, _ = add_working_days(now, category.accept_days)
    resolve_by, _ = add_working_days(now, category.resolve_days)
    assignment_id = f"A-{uuid.uuid4().hex[:16]}"
    await queries.insert_assignment(
        conn,
        assignment_id=assignment_id,
        ticket_id=ticket_id,
        dept_code=lead.code,
        role="lead",
        reason=decision.why,
        accept_by=accept_by,
        resolve_by=resolve_by,
    )
    await queries.set_ticket_status(conn, ticket_id, TicketStatus.DISPATCHED.value)
    deadlines = Deadlines(accept_by=accept_by, resolve_by=resolve_by)
    task = TaskAssigned(
        ticket_id=ticket_id,
        assignment_id=assignment_id,
        dept_code=lead.code,
        role="lead",
        category=category.code,
        category_name=category.name,
        description=snapshot.description,
        location=TaskLocation(
            address_masked=snapshot.location.address, lat=snapshot.location.lat, lon=snapshot.location.lon
        ),
        urgency=snapshot.urgency,
        deadlines=deadlines,
        citizen=snapshot.citizen,
    )
    await outbox.enqueue(
        conn, dept_tasks(lead.code).name, new_event(types.TASK_ASSIGNED, source=SOURCE, subject=ticket_id, data=task)
    )
    await outbox.enqueue(
        conn,
        TICKET_LIFECYCLE.name,
        lifecycle(
            ticket_id,
            types.TICKET_DISPATCHED,
            TicketStatus.DISPATCHED,
            f"dispatched to {lead.name} as lead",
            dept_code=lead.code,
            assignment_id=assignment_id,
            role="lead",
            category=category.code,
            urgency=snapshot.urgency.value,
            deadlines=deadlines.model_dump(mode="json"),
            why=decision.why,
        ),
    )
