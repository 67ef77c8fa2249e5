"""/api/v1/tickets: create, read, timeline."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status

from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.pool import PgPool
from cityloop.intake import queries
from cityloop.intake.masking import mask_address, mask_name, mask_phone
from cityloop.intake.models import Channel, Citizen, TicketCreate, TicketOut, TimelineEntry
from cityloop.intake.tickets import IdempotencyConflict, create_ticket

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])


def get_pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.runtime.pool
    return pool


Pool = Annotated[PgPool, Depends(get_pool)]


def _not_found(ticket_id: str) -> HTTPException:
    return HTTPException(404, {"error": "not_found", "message": f"no ticket {ticket_id}"})


def _ticket_out(row: Any) -> TicketOut:
    return TicketOut(
        id=row["id"],
        channel=Channel(row["channel"]),
        status=TicketStatus(row["status"]),
        category=row["category"],
        description=row["description"],
        location=row["location"],
        urgency=row["urgency"],
        dept_code=row["dept_code"],
        citizen=Citizen.model_construct(
            name=mask_name(row["citizen_name"]),
            phone=mask_phone(row["citizen_phone"]),
            id_number=None,
            address=mask_address(row["citizen_address"]),
            is_company=bool(row["citizen_is_company"]),
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
    )


@router.post(
    "",
    operation_id="create_ticket",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketOut,
    responses={200: {"description": "Replay of an earlier request with the same Idempotency-Key"}},
)
async def create(
    body: TicketCreate,
    pool: Pool,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> TicketOut:
    try:
        ticket_id, created = await create_ticket(pool, body, idempotency_key=idempotency_key)
    except IdempotencyConflict:
        raise HTTPException(
            409,
            {
                "error": "idempotency_conflict",
                "message": "this Idempotency-Key was used with a different request body",
                "fields": [{"field": "Idempotency-Key", "problem": "reused with a different body"}],
            },
        ) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    async with pool.acquire() as conn:
        row = await queries.get_ticket(conn, ticket_id)
    response.headers["Location"] = f"/api/v1/tickets/{ticket_id}"
    return _ticket_out(row)


@router.get("/{ticket_id}", operation_id="get_ticket", response_model=TicketOut)
async def read(ticket_id: str, pool: Pool) -> TicketOut:
    async with pool.acquire() as conn:
        row = await queries.get_ticket(conn, ticket_id)
    if row is None:
        raise _not_found(ticket_id)
    return _ticket_out(row)


@router.get("/{ticket_id}/timeline", operation_id="get_ticket_timeline", response_model=list[TimelineEntry])
async def timeline(ticket_id: str, pool: Pool) -> list[TimelineEntry]:
    async with pool.acquire() as conn:
        if not await queries.ticket_exists(conn, ticket_id):
            raise _not_found(ticket_id)
        rows = await queries.timeline(conn, ticket_id)
    return [TimelineEntry.model_validate(dict(r)) for r in rows]
