"""/api/v1/corrections: submit (department staff, dispatchers), list, review (dispatchers, admins)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.deps import Db, Tx
from cityloop.common.errors import NotFound
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.router.corrections import flows, store
from cityloop.router.corrections.rules import CorrectionRequest
from cityloop.router.http import Ctx

router = APIRouter(prefix="/api/v1/corrections", tags=["corrections"])
Submitter = Annotated[Identity, require_roles(Role.DEPARTMENT, Role.DISPATCHER)]
Reviewer = Annotated[Identity, require_roles(Role.DISPATCHER)]


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=2000)


@router.post("", operation_id="corrections_submit", status_code=201)
async def submit(body: CorrectionRequest, identity: Submitter, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    master = await ctx.master.current(conn)
    return await flows.submit(conn, master, body, identity)


@router.get("", operation_id="corrections_list")
async def listing(
    _: Reviewer,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Literal["pending", "approved", "rejected"] | None = None,
    kind: Literal["address_grid", "category_owner"] | None = None,
) -> Page[dict[str, Any]]:
    """Newest first."""
    rows = await store.list_corrections(conn, status=status, kind=kind, limit=limit + 1, cursor=cursor)
    return store.CORRECTION_ORDER.page(rows, limit, dict)


@router.get("/{correction_id}", operation_id="corrections_get")
async def get(correction_id: int, identity: Submitter, conn: Db) -> dict[str, Any]:
    """A department reads only the corrections it submitted (404 for others')."""
    row = await store.get_correction(conn, correction_id)
    if row is None or (identity.role is Role.DEPARTMENT and row["submitter_dept"] != identity.dept_code):
        raise NotFound(f"no correction {correction_id}", "correction_id")
    return dict(row)


@router.post("/{correction_id}/review", operation_id="corrections_review")
async def review(correction_id: int, body: ReviewBody, identity: Reviewer, ctx: Ctx, conn: Tx) -> dict[str, Any]:
    """Approve (master data changes from now on) or reject; recorded with the reviewer and the data before."""
    master = await ctx.master.current(conn)
    return await flows.review(conn, master, correction_id, identity, decision=body.decision, note=body.note)
