"""/api/v1/scores/recurring: recurring problems, and turning one into a proactive ticket (主动发现)."""

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from cityloop.common.db.pool import PgPool
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.feedback.recurring import proactive, store
from cityloop.feedback.recurring.models import ProactiveOut, RecurringPage, RecurringProblem

router = APIRouter(prefix="/api/v1/scores/recurring", tags=["recurring problems"])


def get_pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.runtime.pool
    return pool


def get_gateway(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.gateway
    return client


Pool = Annotated[PgPool, Depends(get_pool)]
Gateway = Annotated[httpx.AsyncClient, Depends(get_gateway)]
Reader = Annotated[Identity, require_roles(Role.DISPATCHER, Role.COMMAND_CENTRE, Role.AUDITOR)]
# Supervisors who may task a department: the dispatchers and the command centre (auditors only read).
Supervisor = Annotated[Identity, require_roles(Role.DISPATCHER, Role.COMMAND_CENTRE)]


@router.get("", operation_id="recurring_problems_list", response_model=RecurringPage)
async def problems(
    pool: Pool,
    _who: Reader,
    status: Literal["open", "converted"] | None = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="next_cursor of the previous page")
    ] = None,
) -> RecurringPage:
    async with pool.acquire() as conn:
        rows = await store.list_problems(conn, status=status, after=int(cursor or 0), limit=limit + 1)
    items = [RecurringProblem.model_validate(dict(r)) for r in rows[:limit]]
    return RecurringPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


@router.post("/{problem_id}/proactive", operation_id="recurring_problem_to_ticket", response_model=ProactiveOut)
async def to_ticket(problem_id: int, request: Request, pool: Pool, gateway: Gateway, who: Supervisor) -> ProactiveOut:
    async with pool.acquire() as conn, conn.transaction():
        problem = await store.lock_problem(conn, problem_id)
        if problem is None:
            raise HTTPException(404, {"error": "not_found", "message": f"no recurring problem {problem_id}"})
        if problem["status"] == "converted":
            return ProactiveOut(problem_id=problem_id, ticket_id=problem["ticket_id"], created=False)
        if not problem["address"] and problem["lat"] is None:
            raise HTTPException(
                409,
                {"error": "conflict", "message": f"recurring problem {problem_id} has no location to send a ticket to"},
            )
        api_key: str | None = request.app.state.gateway_api_key
        if api_key is None:
            raise HTTPException(
                503, {"error": "not_configured", "message": "CITYLOOP_FEEDBACK_GATEWAY_API_KEY is not set"}
            )
        # The row stays locked while intake creates the ticket: a second click waits, then sees it converted.
        try:
            ticket_id = await proactive.create_ticket(gateway, api_key, problem, who.subject)
        except (httpx.HTTPError, proactive.GatewayRefused) as exc:
            raise HTTPException(
                503, {"error": "upstream_unavailable", "message": f"intake did not create the ticket: {exc}"}
            ) from None
        await store.mark_converted(conn, problem_id, ticket_id=ticket_id, by=who.subject)
    return ProactiveOut(problem_id=problem_id, ticket_id=ticket_id, created=True)
