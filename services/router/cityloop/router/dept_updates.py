"""Replies from departments' systems on ``dept.updates``: checked against the assignment, then applied.

An update from a department that does not hold the assignment, or one that makes no sense in the
assignment's state, is refused to the DLQ with the reason and changes nothing. A lead's rejection (退单)
goes through rejections.after_rejection: re-dispatch, dispatcher, or arbitration. What the lead of a
case does is told to every citizen's ticket merged into it.
"""

from datetime import datetime

import asyncpg
from pydantic import ValidationError

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
from cityloop.router import queries
from cityloop.router.assignments import (
    announce,
    lifecycle,
    snapshot_of,
    stored_classification,
    stored_location,
    withdraw,
)
from cityloop.router.context import RouterContext
from cityloop.router.dispatch import apply_decision
from cityloop.router.rejections import after_rejection
from cityloop.router.routing import Decision

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


async def on_dept_update(conn: Conn, event: CloudEvent, ctx: RouterContext) -> None:
    update = parse(event)
    assignment = await queries.lock_assignment(conn, update.assignment_id)
    if assignment is None or assignment["ticket_id"] != update.ticket_id:
        raise Refused(f"no assignment {update.assignment_id} for ticket {update.ticket_id}")
    if assignment["dept_code"] != update.dept_code:
        raise Refused(f"department {update.dept_code} does not hold assignment {update.assignment_id}")
    role = assignment["role"]
    new_status, lifecycle_type, ticket_status = transition(assignment["status"], event.type, role)
    if event.type == types.DEPT_REJECTED and assignment["final"]:
        raise Refused(f"assignment {update.assignment_id} was decided by arbitration: it is final, no 退单")
    await queries.set_assignment_status(conn, update.assignment_id, new_status)
    if ticket_status is not None:
        await queries.set_ticket_status(conn, update.ticket_id, ticket_status.value)

    detail: dict[str, object] = {"dept_code": update.dept_code, "assignment_id": update.assignment_id, "role": role}
    for name in ("note", "reason", "suggested_dept"):
        if value := getattr(update, name):
            detail[name] = value
    if update.requested_deadline:
        detail["requested_deadline"] = update.requested_deadline.isoformat()
    what = event.type.rsplit(".", 1)[-1]
    if role == "assist":
        detail["update"] = what
    summary = f"{update.dept_code}{' (协办)' if role == 'assist' else ''}: {what}" + (
        f" — {update.note}" if update.note else ""
    )

    if event.type == types.DEPT_REJECTED and role == "lead":
        await _lead_rejected(
            conn, ctx=ctx, assignment=assignment, update=update, detail=detail, summary=summary, now=event.time
        )
        return
    await announce(conn, lifecycle(update.ticket_id, lifecycle_type, ticket_status, summary, detail))
    if role == "lead" and event.type in (types.DEPT_ACCEPTED, types.DEPT_RESOLVED):
        await _tell_case_members(conn, update.ticket_id, lifecycle_type, ticket_status, detail)
        ticket = await queries.get_ticket(conn, update.ticket_id)
        if event.type == types.DEPT_ACCEPTED and ticket is not None and ticket["rejections"] > 0 and ticket["category"]:
            # The owner a rejection pointed to took it: the rejection was right, the category stands.
            await queries.insert_example(
                conn,
                text=ticket["description"],
                category=ticket["category"],
                source="rejection_upheld",
                ticket_id=update.ticket_id,
                created_by=update.dept_code,
            )


async def _tell_case_members(
    conn: Conn, ticket_id: str, lifecycle_type: str, status: TicketStatus | None, detail: dict[str, object]
) -> None:
    """并单: every citizen's ticket in the case follows its lead (one handling, every citizen answered)."""
    case = await queries.case_of_ticket(conn, ticket_id)
    if case is None or case["lead_ticket"] != ticket_id:
        return
    for member in await queries.case_members(conn, case["id"]):
        if member["ticket_id"] == ticket_id:
            continue
        # Router keeps members "merged" (a dispatcher may still split them) until the case is resolved.
        if status == TicketStatus.RESOLVED:
            await queries.set_ticket_status(conn, member["ticket_id"], status.value)
        summary = f"case {case['id']}: {detail['dept_code']!s} {lifecycle_type.rsplit('.', 1)[-1]}"
        await announce(
            conn,
            lifecycle(member["ticket_id"], lifecycle_type, status, summary, detail, case_id=case["id"]),
        )
    if status == TicketStatus.RESOLVED:
        await queries.close_case(conn, case["id"])


async def _lead_rejected(
    conn: Conn,
    *,
    ctx: RouterContext,
    assignment: asyncpg.Record,
    update: DeptUpdate,
    detail: dict[str, object],
    summary: str,
    now: datetime,
) -> None:
    ticket_id = update.ticket_id
    ticket = await queries.get_ticket(conn, ticket_id, lock=True)
    assert ticket is not None
    count = await queries.count_rejection(conn, ticket_id)
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
    await queries.insert_rejection(
        conn,
        ticket_id=ticket_id,
        assignment_id=update.assignment_id,
        dept_code=update.dept_code,
        reason=update.reason or "",
        suggested_dept=update.suggested_dept,
        outcome=outcome.action,
    )
    await announce(
        conn,
        lifecycle(
            ticket_id,
            types.TICKET_REJECTED,
            None,
            summary,
            detail,
            rejections=count,
            outcome=outcome.action,
            explanation=outcome.explanation,
        ),
    )
    if outcome.action == "redispatch" and outcome.dept_code and category is not None:
        dept = master.departments[outcome.dept_code]
        for live in await queries.live_assignments(conn, ticket_id):
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
    await queries.send_to_queue(conn, ticket_id, reason)
    await announce(
        conn,
        lifecycle(
            ticket_id,
            types.TICKET_NEEDS_DISPATCHER,
            TicketStatus.NEEDS_DISPATCHER,
            "arbitration: a dispatcher decides, finally"
            if reason == "arbitration"
            else "rejected: a dispatcher re-routes",
            queue_reason=reason,
            rejections=count,
            explanation=outcome.explanation,
        ),
    )
