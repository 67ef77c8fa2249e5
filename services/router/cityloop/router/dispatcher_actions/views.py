"""/api/v1/routing: the dispatcher's queue and actions, and how a ticket was routed.

The case routes (/routing/merges) are in cases/views.py and the classifier's (/routing/classifier) in
classification/views.py; app.py includes them before this router, whose ``/{ticket_id}`` would catch them.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import NotFound
from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.router.dispatcher_actions import flows, store
from cityloop.router.http import Ctx
from cityloop.router.rejections import store as rejection_store
from cityloop.router.tickets import access
from cityloop.router.tickets import store as tickets

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Dispatcher = Annotated[Identity, require_roles(Role.DISPATCHER)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfirmBody(_Body):
    note: str | None = Field(default=None, max_length=2000)


class CorrectBody(_Body):
    category: str | None = Field(default=None, description="the right catalogue category")
    dept_code: str | None = Field(default=None, description="an explicit lead department")
    grid: str | None = Field(default=None, description="the right grid")
    address: str | None = Field(default=None, max_length=500, description="a better address")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=2000)


class ArbitrateBody(_Body):
    dept_code: str = Field(min_length=1, description="the department that leads, finally")
    category: str | None = None
    note: str = Field(min_length=2, max_length=2000, description="why: recorded in the trail")


QueueReason = Literal["unclassified", "low_confidence", "unresolved_location", "no_unit", "rejected", "arbitration"]


@router.get("/queue", operation_id="routing_queue")
async def queue(
    *,
    _: Dispatcher,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    reason: QueueReason | None = None,
    category: str | None = None,
    district: str | None = None,
) -> Page[dict[str, Any]]:
    """Tickets that need a person, oldest first, with why (problem, proposal, candidates)."""
    rows = await store.queue(conn, reason=reason, category=category, district=district, limit=limit + 1, cursor=cursor)
    return store.QUEUE_ORDER.page(rows, limit, _queue_item)


def _queue_item(r: Any) -> dict[str, Any]:
    return {
        "ticket_id": r["ticket_id"],
        "queue_reason": r["queue_reason"],
        "queued_at": r["queued_at"],
        "description": r["description"],
        "category": r["category"],
        "classification": r["classification"],
        "location": r["location"],
        "resolved": r["resolved"],
        "why": (r["decision"] or {}).get("why"),
        "rejections": r["rejections"],
    }


@router.get("/{ticket_id}", operation_id="routing_record")
async def record(ticket_id: str, identity: CurrentIdentity, conn: Tx) -> dict[str, Any]:
    """How a ticket was routed: classification, location, decision, assignments, rejections, case.
    A department reads it only while it holds an assignment of the ticket (404 otherwise)."""
    ticket = await tickets.get_ticket(conn, ticket_id)
    assignments = await tickets.assignments_of(conn, ticket_id) if ticket is not None else []
    if ticket is None or not access.may_read(identity, assignments):
        raise NotFound(f"no ticket {ticket_id}", "ticket_id")
    rejections = await rejection_store.rejections_of(conn, ticket_id)
    return {
        "ticket_id": ticket_id,
        "status": ticket["status"],
        "category": ticket["category"],
        "queue_reason": ticket["queue_reason"],
        "case_id": ticket["case_id"],
        "classification": ticket["classification"],
        "resolved": ticket["resolved"],
        "decision": ticket["decision"],
        "assignments": [
            {
                k: a[k]
                for k in ("id", "dept_code", "role", "status", "final", "withdrawn_reason", "mode", "emergency_id")
            }
            for a in assignments
        ],
        "emergency_id": ticket["emergency_id"],
        "rejections": [dict(r) for r in rejections],
    }


@router.post("/{ticket_id}/confirm", operation_id="routing_confirm")
async def confirm(ticket_id: str, body: ConfirmBody, identity: Dispatcher, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    """Confirm the proposed routing (a queued low-confidence ticket is dispatched as proposed)."""
    return await flows.confirm(conn, ctx, ticket_id, identity, body.note)


@router.post("/{ticket_id}/correct", operation_id="routing_correct")
async def correct(ticket_id: str, body: CorrectBody, identity: Dispatcher, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    """Correct category, location or lead: live tasks are withdrawn and the ticket is routed again."""
    return await flows.correct(
        conn,
        ctx,
        ticket_id,
        identity,
        category=body.category,
        dept_code=body.dept_code,
        grid=body.grid,
        address=body.address,
        lat=body.lat,
        lon=body.lon,
        note=body.note,
    )


@router.post("/{ticket_id}/arbitrate", operation_id="routing_arbitrate")
async def arbitrate(ticket_id: str, body: ArbitrateBody, identity: Dispatcher, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    """Decide a disputed ticket after repeated 退单; the assignment is final."""
    return await flows.arbitrate(
        conn, ctx, ticket_id, identity, dept_code=body.dept_code, category=body.category, note=body.note
    )
