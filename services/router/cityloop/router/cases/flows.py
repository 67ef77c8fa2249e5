"""并单 carried out: find the open case a new ticket repeats, let the ticket join it, and make every
citizen's ticket in a case follow what its lead's department does."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import DeptStep, Merged, RoutedLocation
from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.pool import Conn
from cityloop.router.cases import store
from cityloop.router.cases.rules import MergeMatch, OpenCase, find_case, search_box
from cityloop.router.dispatch.location import Location
from cityloop.router.dispatch.rules import Decision
from cityloop.router.effects import EMIT, announce, tell
from cityloop.router.masterdata.model import Category, Department, MasterData
from cityloop.router.tickets import store as tickets
from cityloop.router.tickets.status import RoutingStatus


async def matching_case(conn: Conn, category: Category, location: Location, now: datetime) -> MergeMatch | None:
    """The open case a ticket of ``category`` at ``location`` repeats, if any (rules.find_case decides)."""
    if not category.merges or location.point is None:
        return None
    since = now - timedelta(hours=category.merge_hours)
    rows = await store.open_cases(conn, category.code, since, search_box(location.point, category.merge_metres))
    cases = [
        OpenCase(r["id"], r["category"], (r["lat"], r["lon"]) if r["lat"] is not None else None, r["opened_at"])
        for r in rows
    ]
    return find_case(category, location.point, now, cases)


async def merge_into(
    conn: Conn,
    *,
    ticket_id: str,
    case: str,
    decision: Decision,
    master: MasterData,
    actor: str,
    category: str | None = None,
    location: RoutedLocation | None = None,
) -> None:
    """The ticket joins the case: no new task; the lead department hears another citizen is waiting."""
    row = await store.get_case(conn, case, lock=True)
    assert row is not None
    lead_ticket = await tickets.get_ticket(conn, row["lead_ticket"])
    assert lead_ticket is not None
    await store.set_ticket_case(conn, ticket_id, case)
    await tickets.set_ticket_status(conn, ticket_id, RoutingStatus.MERGED)
    lead_assignment = next(
        (a for a in await tickets.live_assignments(conn, row["lead_ticket"]) if a["role"] == "lead"), None
    )
    if lead_assignment is not None:
        await tell(conn, lead_assignment, "merged", f"ticket {ticket_id} (another citizen) merged into this case")
    status = TicketStatus(lead_ticket["status"])
    lead = master.departments.get(lead_assignment["dept_code"]) if lead_assignment else None
    merged = Merged(
        case_id=case,
        merged_into=row["lead_ticket"],
        dept_code=lead_assignment["dept_code"] if lead_assignment else None,
        dept_name=lead.name if lead else None,
        assignment_id=lead_assignment["id"] if lead_assignment else None,
        why=decision.why_record(),
        # where and what, as on cityloop.ticket.dispatched: feedback's hot spots and surges count them
        category=category,
        location=location,
    )
    summary = f"merged into case {case} (ticket {row['lead_ticket']})"
    await announce(conn, EMIT.lifecycle(types.TICKET_MERGED, ticket_id, status, summary, merged, actor=actor))


async def restate_members(
    conn: Conn,
    *,
    case_id: str,
    lead_ticket: str,
    lead: Department,
    assignment_id: str,
    why: dict[str, Any],
    replaces: Sequence[str],
    actor: str,
) -> None:
    """The case's lead ticket has a new lead department: each ticket merged into it says so again
    (cityloop.ticket.merged with ``replaces``), so every citizen's ticket shows who handles it now."""
    members = [m for m in await store.case_members(conn, case_id) if m["ticket_id"] != lead_ticket]
    members = [m for m in members if m["status"] == RoutingStatus.MERGED]
    for member in members:
        merged = Merged(
            case_id=case_id,
            merged_into=lead_ticket,
            dept_code=lead.code,
            dept_name=lead.name,
            assignment_id=assignment_id,
            why=why,
            replaces=list(replaces),
        )
        summary = f"case {case_id} is now handled by {lead.name}"
        await announce(
            conn,
            EMIT.lifecycle(
                types.TICKET_MERGED, member["ticket_id"], TicketStatus.DISPATCHED, summary, merged, actor=actor
            ),
        )
    if members:
        holder = {"id": assignment_id, "ticket_id": lead_ticket, "dept_code": lead.code}
        await tell(conn, holder, "merged", f"{len(members)} other citizens' tickets are merged into this case")


async def follow_lead(
    conn: Conn, ticket_id: str, lifecycle_type: str, status: TicketStatus | None, detail: DeptStep
) -> None:
    """并单: every citizen's ticket in the case follows its lead (one handling, every citizen answered)."""
    led = await store.followers_of_lead(conn, ticket_id)
    if led is None:
        return
    case_id, followers = led
    for member in followers:
        # Router keeps members "merged" (a dispatcher may still split them) until the case is resolved.
        if status == TicketStatus.RESOLVED:
            await tickets.set_ticket_status(conn, member, status.value)
        summary = f"case {case_id}: {detail.dept_code} {lifecycle_type.rsplit('.', 1)[-1]}"
        told = detail.model_copy(update={"case_id": case_id})
        await announce(conn, EMIT.lifecycle(lifecycle_type, member, status, summary, told))
    if status == TicketStatus.RESOLVED:
        await store.close_case(conn, case_id)
