"""/api/v1/callbacks: the due list and recording an outcome."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from cityloop.common.db.pool import PgPool
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.feedback import queries
from cityloop.feedback.callbacks import NoCallbackDue, record_outcome
from cityloop.feedback.models import CallbackOut, CallbackOutcome

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])


def get_pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.runtime.pool
    return pool


Pool = Annotated[PgPool, Depends(get_pool)]


# Callbacks are made by the hotline's own staff; auditors may read the list.
Caller = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER)]
Reader = Annotated[Identity, require_roles(Role.CALL_TAKER, Role.DISPATCHER, Role.AUDITOR)]


@router.get("/due", operation_id="list_due_callbacks", response_model=list[CallbackOut])
async def due(
    pool: Pool,
    _who: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int, Query(ge=0)] = 0,
) -> list[CallbackOut]:
    async with pool.acquire() as conn:
        rows = await queries.due(conn, limit, after)
    return [CallbackOut.model_validate(dict(r)) for r in rows]


@router.post("/{ticket_id}/outcome", operation_id="record_callback_outcome")
async def outcome(ticket_id: str, body: CallbackOutcome, pool: Pool, _who: Caller) -> dict[str, object]:
    try:
        async with pool.acquire() as conn, conn.transaction():
            reopened = await record_outcome(conn, ticket_id, body)
    except NoCallbackDue:
        raise HTTPException(
            404, {"error": "not_found", "message": f"no callback is due for ticket {ticket_id}"}
        ) from None
    return {"ticket_id": ticket_id, "reopened": reopened}
