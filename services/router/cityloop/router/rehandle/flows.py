"""重办 carried out: on feedback's ``cityloop.callback.recorded`` with the verdict ``rehandle`` the lead's
assignment goes from resolved to reopened (dept_updates/rules.py lets that department accept, report
progress and resolve again), and ``cityloop.ticket.reopened`` tells sla to open the re-handle clock and send
the department its ``change: rehandle``. Router reopens before anyone tells the department, so the
department's answers never arrive at an assignment that is still closed.

并单: the case reopens when any one of its citizens is not satisfied: every ticket of the case is reopened
and will be resolved (and called back) again with its lead.
"""

from cityloop.common.contract import types
from cityloop.common.contract.callbacks import CallbackRecorded, Verdict
from cityloop.common.contract.lifecycle import Reopened
from cityloop.common.contract.models import TicketStatus
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused
from cityloop.router.cases import store as cases
from cityloop.router.context import RouterContext
from cityloop.router.effects import EMIT, announce
from cityloop.router.rehandle import rules
from cityloop.router.tickets import store as tickets
from cityloop.router.tickets.status import AssignmentStatus, RoutingStatus


async def on_callback_recorded(conn: Conn, event: CloudEvent, ctx: RouterContext) -> None:
    recorded = parse_lifecycle(event, CallbackRecorded)
    outcome = recorded.detail
    if outcome.verdict is not Verdict.REHANDLE:
        return
    if not outcome.assignment_id:
        raise Refused("重办: the callback names no assignment to reopen")
    assignment = await tickets.lock_assignment(conn, outcome.assignment_id)
    if assignment is None:
        raise Refused(f"重办: no assignment {outcome.assignment_id}")
    if rules.reopen(assignment["status"], assignment["role"]) is rules.Reopen.ALREADY:
        return
    lead_ticket: str = assignment["ticket_id"]
    dept_code: str = assignment["dept_code"]
    master = await ctx.master.current(conn)
    dept = master.departments.get(dept_code)
    escalated_to = rules.escalation_target(master.supervisors(dept) if dept else [], outcome.escalation_level)

    await tickets.set_assignment_status(conn, assignment["id"], AssignmentStatus.REOPENED)
    await tickets.set_ticket_status(conn, lead_ticket, RoutingStatus.DISPATCHED)
    case = await cases.case_of_ticket(conn, lead_ticket)
    if case is not None:
        await cases.reopen_case(conn, case["id"])

    reopened = Reopened(
        dept_code=dept_code,
        assignment_id=assignment["id"],
        callback_id=outcome.callback_id,
        solved=outcome.solved,
        satisfaction=outcome.satisfaction.value,
        reason=outcome.reason.value if outcome.reason else None,
        failures=outcome.failures,
        escalation_level=outcome.escalation_level if escalated_to else 0,
        escalated_to=escalated_to,
        case_id=case["id"] if case is not None else None,
        because_of=None if recorded.ticket_id == lead_ticket else recorded.ticket_id,
    )
    summary = f"重办: reopened to {dept_code}" + (
        f"; failed again, raised to {escalated_to} (督办, level {reopened.escalation_level})" if escalated_to else ""
    )
    await announce(conn, _reopened(lead_ticket, summary, reopened))
    if case is None:
        return
    for member in await cases.case_members(conn, case["id"]):
        if member["ticket_id"] == lead_ticket:
            continue
        await tickets.set_ticket_status(conn, member["ticket_id"], RoutingStatus.MERGED)
        # A member's ticket follows its lead's clocks: no assignment of its own, so sla opens none for it.
        follower = reopened.model_copy(
            update={"dept_code": None, "assignment_id": None, "because_of": reopened.because_of or lead_ticket}
        )
        await announce(conn, _reopened(member["ticket_id"], f"case {case['id']}: {summary}", follower))


def _reopened(ticket_id: str, summary: str, detail: Reopened) -> CloudEvent:
    return EMIT.lifecycle(types.TICKET_REOPENED, ticket_id, TicketStatus.DISPATCHED, summary, detail)
