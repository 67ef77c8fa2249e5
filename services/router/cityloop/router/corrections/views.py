"""/api/v1/corrections: submit (department staff, dispatchers), list, review (dispatchers, admins)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.identity import Identity, Role, require_roles
from cityloop.router.corrections import flows, store
from cityloop.router.corrections.rules import CorrectionRequest
from cityloop.router.http import Limit, Offset, Page, context, not_found, page, transaction

router = APIRouter(prefix="/api/v1/corrections", tags=["corrections"])
Submitter = Annotated[Identity, require_roles(Role.DEPARTMENT, Role.DISPATCHER)]
Reviewer = Annotated[Identity, require_roles(Role.DISPATCHER)]


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=2000)


@router.post("", operation_id="corrections_submit", status_code=201)
async def submit(request: Request, body: CorrectionRequest, identity: Submitter) -> dict[str, Any]:
    async with transaction(request) as conn:
        master = await context(request).master.current(conn)
        return await flows.submit(conn, master, body, identity)


@router.get("", operation_id="corrections_list", response_model=Page)
async def listing(
    request: Request,
    _: Reviewer,
    limit: Limit = 50,
    offset: Offset = 0,
    status: Literal["pending", "approved", "rejected"] | None = None,
    kind: Literal["address_grid", "category_owner"] | None = None,
) -> Page:
    async with transaction(request) as conn:
        rows, total = await store.list_corrections(conn, status=status, kind=kind, limit=limit, offset=offset)
    return page(rows, total, limit, offset)


@router.get("/{correction_id}", operation_id="corrections_get")
async def get(request: Request, correction_id: int, _: Submitter) -> dict[str, Any]:
    async with transaction(request) as conn:
        row = await store.get_correction(conn, correction_id)
    if row is None:
        raise not_found(f"correction {correction_id}", "correction_id")
    return dict(row)


@router.post("/{correction_id}/review", operation_id="corrections_review")
async def review(request: Request, correction_id: int, body: ReviewBody, identity: Reviewer) -> dict[str, Any]:
    """Approve (master data changes from now on) or reject; recorded with the reviewer and the data before."""
    async with transaction(request) as conn:
        master = await context(request).master.current(conn)
        return await flows.review(conn, master, correction_id, identity, decision=body.decision, note=body.note)
