"""/api/v1/routing/merges: cases with more than one citizen's ticket (并单), and splitting one out."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import NotFound
from cityloop.common.identity import CurrentIdentity, Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.router.cases import store
from cityloop.router.dispatcher_actions import flows as actions
from cityloop.router.http import Ctx
from cityloop.router.tickets import access
from cityloop.router.tickets import store as tickets

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Dispatcher = Annotated[Identity, require_roles(Role.DISPATCHER)]


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1)
    note: str | None = Field(default=None, max_length=2000)


@router.get("/merges", operation_id="routing_merges")
async def merges(
    *,
    identity: CurrentIdentity,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Literal["open", "closed"] | None = None,
) -> Page[dict[str, Any]]:
    """Cases with more than one citizen's ticket (并单), newest first; a department sees only the cases
    in which it holds an assignment of a ticket."""
    dept = access.department_of(identity)
    rows = await store.list_cases(conn, status=status, limit=limit + 1, cursor=cursor, dept_code=dept)
    return store.CASE_ORDER.page(rows, limit, dict)


@router.get("/merges/{case_id}", operation_id="routing_merge")
async def merge(case_id: str, identity: CurrentIdentity, conn: Tx) -> dict[str, Any]:
    case = await store.get_case(conn, case_id)
    members = await store.case_members(conn, case_id) if case is not None else []
    held = [a for m in members for a in await tickets.assignments_of(conn, m["ticket_id"])]
    if case is None or not access.may_read(identity, held):
        raise NotFound(f"no case {case_id}", "case_id")
    return {**dict(case), "tickets": [{"ticket_id": m["ticket_id"], "status": m["status"]} for m in members]}


@router.post("/merges/{case_id}/split", operation_id="routing_split")
async def split(case_id: str, body: SplitBody, identity: Dispatcher, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    """Take a wrongly merged ticket out of a case: it is routed on its own."""
    return await actions.split(conn, ctx, case_id, body.ticket_id, identity=identity, note=body.note)
