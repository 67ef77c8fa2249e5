"""Replies from departments' systems on ``dept.<code>.updates``: checked against the assignment, then applied.

The sender is the department whose topic the update came on (only it may write there: broker ACLs in
deploy/k8s/base/kafka/), not the ``dept_code`` written inside: an update naming another department is
refused. The shared ``dept.updates`` of the first release names no sender and is read under the old rule
(the ``dept_code`` inside) until it is dropped (README "Changes to the contract").

An update from a department that does not hold the assignment, or one that makes no sense in the
assignment's state (rules.py), is refused to the DLQ with the reason and changes nothing. A lead's
rejection (退单) goes to rejections/flows.py: re-dispatch, dispatcher, or arbitration. What the lead of
a case does is told to every citizen's ticket merged into it (cases/flows.py).
"""

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Rejected
from cityloop.common.contract.models import DeptForwarded
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused
from cityloop.common.topics import sender_of
from cityloop.router.cases.flows import follow_lead
from cityloop.router.classification import store as examples
from cityloop.router.context import RouterContext
from cityloop.router.dept_updates.forwarding import forward
from cityloop.router.dept_updates.rules import parse, require_owner, step_detail, transition
from cityloop.router.effects import EMIT, announce
from cityloop.router.emergencies.flows import rejection_noted
from cityloop.router.rejections.flows import lead_rejected
from cityloop.router.tickets import store as tickets


async def on_dept_update(conn: Conn, event: CloudEvent, ctx: RouterContext, *, topic: str) -> None:
    update = parse(event)
    sender = sender_of(topic)
    if sender is not None and update.dept_code != sender:
        raise Refused(
            f"dept_code {update.dept_code} sent on {topic}: a department answers only for itself, on its own topic"
        )
    assignment = await tickets.lock_assignment(conn, update.assignment_id)
    if assignment is None or assignment["ticket_id"] != update.ticket_id:
        raise Refused(f"no assignment {update.assignment_id} for ticket {update.ticket_id}")
    if assignment["dept_code"] != update.dept_code:
        raise Refused(f"department {update.dept_code} does not hold assignment {update.assignment_id}")
    role = assignment["role"]
    if isinstance(update, DeptForwarded):
        await forward(conn, ctx, assignment, update)
        return
    if event.type == types.DEPT_REJECTED and assignment["mode"] == "emergency":
        if assignment["status"] not in ("assigned", "accepted"):
            raise Refused(f"{event.type} is not allowed on an assignment that is {assignment['status']}")
        await rejection_noted(conn, assignment, update)
        return
    require_owner(update)
    new_status, lifecycle_type, ticket_status = transition(assignment["status"], event.type, role)
    if event.type == types.DEPT_REJECTED and assignment["final"]:
        raise Refused(f"assignment {update.assignment_id} was decided by arbitration: it is final, no 退单")
    await tickets.set_assignment_status(conn, update.assignment_id, new_status)
    ticket = (
        None if ticket_status is None else await tickets.set_ticket_status(conn, update.ticket_id, ticket_status.value)
    )

    what = event.type.rsplit(".", 1)[-1]
    detail = step_detail(lifecycle_type, update, role, what)
    summary = f"{update.dept_code}{' (协办)' if role == 'assist' else ''}: {what}" + (
        f" — {update.note}" if update.note else ""
    )

    if isinstance(detail, Rejected) and role == "lead":
        await lead_rejected(
            conn, ctx=ctx, assignment=assignment, update=update, detail=detail, summary=summary, now=event.time
        )
        return
    await announce(conn, EMIT.lifecycle(lifecycle_type, update.ticket_id, ticket_status, summary, detail))
    if role == "lead" and event.type in (types.DEPT_ACCEPTED, types.DEPT_RESOLVED):
        await follow_lead(conn, update.ticket_id, lifecycle_type, ticket_status, detail)
        if event.type == types.DEPT_ACCEPTED and ticket is not None and ticket["rejections"] > 0 and ticket["category"]:
            # The owner a rejection pointed to took it: the rejection was right, the category stands.
            await examples.insert_example(
                conn,
                text=ticket["description"],
                category=ticket["category"],
                source="rejection_upheld",
                ticket_id=update.ticket_id,
                created_by=update.dept_code,
            )
