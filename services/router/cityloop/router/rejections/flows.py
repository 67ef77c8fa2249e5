"""退单 carried out: what happens to a ticket after its lead department rejects it."""

from datetime import datetime

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import NeedsDispatcher, Rejected
from cityloop.common.contract.models import DeptUpdate, TicketStatus
from cityloop.common.db.pool import Conn
from cityloop.router import metrics
from cityloop.router.context import RouterContext
from cityloop.router.corrections import proposals
from cityloop.router.dispatch.flows import apply_decision
from cityloop.router.dispatch.rules import Decision
from cityloop.router.effects import EMIT, announce, withdraw
from cityloop.router.rejections import store
from cityloop.router.rejections.rules import after_rejection
from cityloop.router.tickets import store as tickets
from cityloop.router.tickets.records import snapshot_of, stored_classification, stored_location


async def lead_rejected(
    conn: Conn,
    *,
    ctx: RouterContext,
    assignment: asyncpg.Record,
    update: DeptUpdate,
    detail: Rejected,
    summary: str,
    now: datetime,
) -> None:
    """A lead department rejected its task (退单): count it, record it, then re-dispatch to the suggested
    owner, or queue the ticket for a dispatcher, or for final arbitration (rules.after_rejection)."""
    ticket_id = update.ticket_id
    ticket = await tickets.get_ticket(conn, ticket_id, lock=True)
    assert ticket is not None
    count = await store.count_rejection(conn, ticket_id)
    master = await ctx.master.current(conn)
    location = stored_location(ticket)
    category = master.categories.get(ticket["category"] or "")
    outcome = after_rejection(
        rejections=count,
        rejecting_dept=update.dept_code,
        suggested=update.suggested_dept,
        category=category,
        location=location,
        master=master,
    )
    metrics.REJECTIONS.labels(outcome.action).inc()
    await store.insert_rejection(
        conn,
        ticket_id=ticket_id,
        assignment_id=update.assignment_id,
        dept_code=update.dept_code,
        reason=update.reason or "",
        suggested_dept=update.suggested_dept,
        outcome=outcome.action,
    )
    # Rejections are data: repeated ones of a category towards another department type propose a
    # catalogue correction.
    await proposals.signal(
        conn,
        master,
        kind="rejection",
        ticket_id=ticket_id,
        category=ticket["category"],
        from_dept=update.dept_code,
        to_dept=update.suggested_dept,
        at=now,
    )
    counted = detail.model_copy(
        update={"rejections": count, "outcome": outcome.action, "explanation": outcome.explanation}
    )
    await announce(conn, EMIT.lifecycle(types.TICKET_REJECTED, ticket_id, None, summary, counted))
    if outcome.action == "redispatch" and outcome.dept_code and category is not None:
        dept = master.departments[outcome.dept_code]
        for live in await tickets.live_assignments(conn, ticket_id):
            if live["dept_code"] == dept.code:
                await withdraw(conn, live, f"{dept.code} now leads this ticket")
        why = {
            **(ticket["decision"] or {}).get("why", {}),
            "rule": f"改派: {update.dept_code} rejected ({update.reason}); suggested {dept.code}, "
            f"which the catalogue allows for {category.code}",
        }
        decision = Decision("dispatch", why, category=category, lead=dept, supervisors=tuple(master.supervisors(dept)))
        await apply_decision(
            conn,
            ticket_id=ticket_id,
            snapshot=snapshot_of(ticket),
            classification=stored_classification(ticket),
            location=location,
            decision=decision,
            master=master,
            now=now,
            merge=False,
            replaces=[update.assignment_id],
        )
        return
    reason = "arbitration" if outcome.action == "arbitration" else "rejected"
    await tickets.send_to_queue(conn, ticket_id, reason)
    await announce(
        conn,
        EMIT.lifecycle(
            types.TICKET_NEEDS_DISPATCHER,
            ticket_id,
            TicketStatus.NEEDS_DISPATCHER,
            "arbitration: a dispatcher decides, finally"
            if reason == "arbitration"
            else "rejected: a dispatcher re-routes",
            NeedsDispatcher(queue_reason=reason, rejections=count, explanation=outcome.explanation),
        ),
    )
