"""/api/v1/routing: the dispatcher's queue and actions, and how a ticket was routed.

The case routes (/routing/merges) are in cases/views.py and the classifier's (/routing/classifier) in
classification/views.py; app.py includes them before this router, whose ``/{ticket_id}`` would catch them.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.router.dispatcher_actions import flows, store
from cityloop.router.http import Limit, Offset, Page, context, not_found, page, transaction
from cityloop.router.rejections import store as rejection_store
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


@router.get("/queue", operation_id="routing_queue", response_model=Page)
async def queue(
    *,
    request: Request,
    _: Dispatcher,
    limit: Limit = 50,
    offset: Offset = 0,
    reason: QueueReason | None = None,
    category: str | None = None,
    district: str | None = None,
) -> Page:
    """Tickets that need a person, oldest first, with why (problem, proposal, candidates)."""
    async with transaction(request) as conn:
        rows, total = await store.queue(
            conn, reason=reason, category=category, district=district, limit=limit, offset=offset
        )
    return page([_queue_item(r) for r in rows], total, limit, offset)


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
async def record(request: Request, ticket_id: str, _: CurrentIdentity) -> dict[str, Any]:
    """How a ticket was routed: classification, location, decision, assignments, rejections, case."""
    async with transaction(request) as conn:
        ticket = await tickets.get_ticket(conn, ticket_id)
        if ticket is None:
            raise not_found(f"ticket {ticket_id}", "ticket_id")
        assignments = await tickets.assignments_of(conn, ticket_id)
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
            {k: a[k] for k in ("id", "dept_code", "role", "status", "final", "withdrawn_reason")} for a in assignments
        ],
        "rejections": [dict(r) for r in rejections],
    }


@router.post("/{ticket_id}/confirm", operation_id="routing_confirm")
async def confirm(request: Request, ticket_id: str, body: ConfirmBody, identity: Dispatcher) -> dict[str, Any]:
    """Confirm the proposed routing (a queued low-confidence ticket is dispatched as proposed)."""
    async with transaction(request) as conn:
        return await flows.confirm(conn, context(request), ticket_id, identity, body.note)


@router.post("/{ticket_id}/correct", operation_id="routing_correct")
async def correct(request: Request, ticket_id: str, body: CorrectBody, identity: Dispatcher) -> dict[str, Any]:
    """Correct category, location or lead: live tasks are withdrawn and the ticket is routed again."""
    async with transaction(request) as conn:
        return await flows.correct(
            conn,
            context(request),
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
async def arbitrate(request: Request, ticket_id: str, body: ArbitrateBody, identity: Dispatcher) -> dict[str, Any]:
    """Decide a disputed ticket after repeated 退单; the assignment is final."""
    async with transaction(request) as conn:
        return await flows.arbitrate(
            conn,
            context(request),
            ticket_id,
            identity,
            dept_code=body.dept_code,
            category=body.category,
            note=body.note,
        )
