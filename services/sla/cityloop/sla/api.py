"""HTTP views under ``/api/v1/deadlines`` (the gateway forwards them here): a ticket's clocks, the
extension requests, and their approval or rejection."""

from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import Forbidden, NotFound
from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.sla import extensions, ladder, queries
from cityloop.sla.models import ApproveExtension, ClockView, ExtensionView, RejectExtension, TicketDeadlines

Decider = Annotated[Identity, require_roles(Role.DISPATCHER, Role.DEPARTMENT)]


def clock_view(row: asyncpg.Record) -> ClockView:
    step = None
    if row["next_fire_at"] is not None:
        units = ladder.chain(list(row["supervisors"]), row["command_unit"], row["mode"])
        described = ladder.describe(row["step"], units, row["mode"])
        step = described.kind.value if described else None
    return ClockView(
        id=row["id"],
        ticket_id=row["ticket_id"],
        kind=row["kind"],
        state=row["state"],
        assignment_id=row["assignment_id"],
        dept_code=row["dept_code"],
        category=row["category"],
        mode=row["mode"],
        started_at=row["started_at"],
        warn_at=row["warn_at"],
        due_at=row["due_at"],
        estimated=row["estimated"],
        breached=row["breached_at"] is not None,
        next_step=step,
        next_fire_at=row["next_fire_at"],
        closed_at=row["closed_at"],
        moves=row["moves"],
    )


def extension_view(row: asyncpg.Record, clock: asyncpg.Record | None = None) -> ExtensionView:
    source: Any = clock if clock is not None else row
    return ExtensionView(
        id=row["id"],
        ticket_id=row["ticket_id"],
        clock_id=row["clock_id"],
        kind=source["kind"],
        assignment_id=row["assignment_id"],
        dept_code=row["dept_code"],
        current_deadline=source["due_at"],
        requested_deadline=row["requested_deadline"],
        requested_at=row["requested_at"],
        note=row["note"],
        status=row["status"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_note=row["decision_note"],
        granted_deadline=row["granted_deadline"],
    )


def deadlines_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/deadlines", tags=["deadlines"])

    @router.get("/tickets/{ticket_id}", operation_id="read_ticket_deadlines")
    async def read_ticket_deadlines(ticket_id: str, identity: CurrentIdentity, conn: Db) -> TicketDeadlines:
        rows = await queries.clocks_of_ticket(conn, ticket_id)
        if identity.role is Role.DEPARTMENT:
            # A department sees the clocks of tickets it holds or supervises, no others.
            code = identity.dept_code
            if not any(r["dept_code"] == code or code in (r["supervisors"] or []) for r in rows):
                rows = []
        if not rows:
            raise NotFound(f"no deadlines for ticket {ticket_id}", "ticket_id")
        return TicketDeadlines(ticket_id=ticket_id, clocks=[clock_view(r) for r in rows])

    @router.get("/extensions", operation_id="list_extension_requests")
    async def list_extension_requests(
        *,
        identity: Annotated[Identity, require_roles(Role.DISPATCHER, Role.DEPARTMENT, Role.AUDITOR)],
        conn: Db,
        status: Annotated[Literal["pending", "approved", "rejected", "withdrawn"] | None, Query()] = "pending",
        ticket_id: str | None = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[ExtensionView]:
        """Extension requests (延期), oldest first; a department sees its own and those it supervises."""
        scope = identity.dept_code if identity.role is Role.DEPARTMENT else None
        if identity.role is Role.DEPARTMENT and not scope:
            raise Forbidden("a department identity needs a dept_code")
        rows = await queries.list_extensions(
            conn, status=status, ticket_id=ticket_id, visible_to_dept=scope, limit=limit + 1, cursor=cursor
        )
        return queries.EXTENSION_ORDER.page(rows, limit, extension_view)

    @router.post("/extensions/{extension_id}/approve", operation_id="approve_extension_request")
    async def approve_extension_request(
        extension_id: int, body: ApproveExtension, identity: Decider, conn: Tx
    ) -> ExtensionView:
        decided = await extensions.approve(conn, extension_id, identity, deadline=body.deadline, note=body.note)
        return extension_view(decided, await queries.lock_clock(conn, decided["clock_id"]))

    @router.post("/extensions/{extension_id}/reject", operation_id="reject_extension_request")
    async def reject_extension_request(
        extension_id: int, body: RejectExtension, identity: Decider, conn: Tx
    ) -> ExtensionView:
        decided = await extensions.reject(conn, extension_id, identity, reason=body.reason)
        return extension_view(decided, await queries.lock_clock(conn, decided["clock_id"]))

    return router
