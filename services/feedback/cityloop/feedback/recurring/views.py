"""/api/v1/scores/recurring: recurring problems, and turning one into a proactive ticket (主动发现)."""

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, Request

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import Conflict, NotFound, Unavailable
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.feedback.recurring import proactive, store
from cityloop.feedback.recurring.models import ProactiveOut, RecurringProblem

router = APIRouter(prefix="/api/v1/scores/recurring", tags=["recurring problems"])


async def get_gateway(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.gateway
    return client


Gateway = Annotated[httpx.AsyncClient, Depends(get_gateway)]
Reader = Annotated[Identity, require_roles(Role.DISPATCHER, Role.COMMAND_CENTRE, Role.AUDITOR)]
# Supervisors who may task a department: the dispatchers and the command centre (auditors only read).
Supervisor = Annotated[Identity, require_roles(Role.DISPATCHER, Role.COMMAND_CENTRE)]


@router.get("", operation_id="recurring_problems_list")
async def problems(
    _who: Reader,
    conn: Db,
    status: Literal["open", "converted"] | None = "open",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[RecurringProblem]:
    """Oldest first."""
    rows = await store.list_problems(conn, status=status, cursor=cursor, limit=limit + 1)
    return store.PROBLEM_ORDER.page(rows, limit, lambda r: RecurringProblem.model_validate(dict(r)))


@router.post("/{problem_id}/proactive", operation_id="recurring_problem_to_ticket", response_model=ProactiveOut)
async def to_ticket(problem_id: int, request: Request, gateway: Gateway, who: Supervisor, conn: Tx) -> ProactiveOut:
    problem = await store.lock_problem(conn, problem_id)
    if problem is None:
        raise NotFound(f"no recurring problem {problem_id}", "problem_id")
    if problem["status"] == "converted":
        return ProactiveOut(problem_id=problem_id, ticket_id=problem["ticket_id"], created=False)
    if not problem["address"] and problem["lat"] is None:
        raise Conflict(f"recurring problem {problem_id} has no location to send a ticket to", "problem_id")
    api_key: str | None = request.app.state.gateway_api_key
    if api_key is None:
        raise Unavailable("CITYLOOP_FEEDBACK_GATEWAY_API_KEY is not set", error="not_configured")
    # The row stays locked while intake creates the ticket: a second click waits, then sees it converted.
    try:
        ticket_id = await proactive.create_ticket(gateway, api_key, problem, who.subject)
    except (httpx.HTTPError, proactive.GatewayRefused) as exc:
        raise Unavailable(f"intake did not create the ticket: {exc}", error="upstream_unavailable") from None
    await store.mark_converted(conn, problem_id, ticket_id=ticket_id, by=who.subject)
    return ProactiveOut(problem_id=problem_id, ticket_id=ticket_id, created=True)
