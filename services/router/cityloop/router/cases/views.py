"""/api/v1/routing/merges: cases with more than one citizen's ticket (并单), and splitting one out."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.router.cases import store
from cityloop.router.dispatcher_actions import flows as actions
from cityloop.router.http import Limit, Offset, Page, context, not_found, page, transaction

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Dispatcher = Annotated[Identity, require_roles(Role.DISPATCHER)]


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=2000)


@router.get("/merges", operation_id="routing_merges", response_model=Page)
async def merges(
    *,
    request: Request,
    _: CurrentIdentity,
    limit: Limit = 50,
    offset: Offset = 0,
    status: Literal["open", "closed"] | None = None,
) -> Page:
    """Cases with more than one citizen's ticket (并单)."""
    async with transaction(request) as conn:
        rows, total = await store.list_cases(conn, status=status, limit=limit, offset=offset)
    return page(rows, total, limit, offset)


@router.get("/merges/{case_id}", operation_id="routing_merge")
async def merge(request: Request, case_id: str, _: CurrentIdentity) -> dict[str, Any]:
    async with transaction(request) as conn:
        case = await store.get_case(conn, case_id)
        if case is None:
            raise not_found(f"case {case_id}", "case_id")
        members = await store.case_members(conn, case_id)
    return {**dict(case), "tickets": [{"ticket_id": m["ticket_id"], "status": m["status"]} for m in members]}


@router.post("/merges/{case_id}/split", operation_id="routing_split")
async def split(request: Request, case_id: str, body: SplitBody, identity: Dispatcher) -> dict[str, Any]:
    """Take a wrongly merged ticket out of a case: it is routed on its own."""
    async with transaction(request) as conn:
        return await actions.split(conn, context(request), case_id, body.ticket_id, identity=identity, note=body.note)
