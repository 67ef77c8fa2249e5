"""Data corrections: a street or department reports that master data is wrong (an address belongs to
another grid; a category belongs to another department); a dispatcher or admin reviews it; once
approved it changes the master data routing uses from then on. The corrections table is the trail:
who asked, why, who decided, and what the data said before."""

from typing import Any, Literal

from cityloop.common.db.pool import Conn
from cityloop.common.errors import Conflict, Forbidden, NotFound
from cityloop.common.identity import Identity
from cityloop.router.corrections import store
from cityloop.router.corrections.rules import AddressGrid, CategoryOwner, CorrectionRequest, validate
from cityloop.router.dispatch.location import locate
from cityloop.router.masterdata import store as master_store
from cityloop.router.masterdata.model import MasterData, Responsibility


async def submit(conn: Conn, master: MasterData, request: CorrectionRequest, identity: Identity) -> dict[str, Any]:
    payload = validate(request.change, master)
    row = await store.insert_correction(
        conn,
        kind=request.change.kind,
        payload=payload,
        reason=request.reason,
        submitted_by=identity.subject,
        submitter_dept=identity.dept_code,
    )
    return dict(row)


async def review(
    conn: Conn,
    master: MasterData,
    correction_id: int,
    identity: Identity,
    *,
    decision: Literal["approve", "reject"],
    note: str | None,
) -> dict[str, Any]:
    row = await store.get_correction(conn, correction_id, lock=True)
    if row is None:
        raise NotFound(f"no correction {correction_id}", "correction_id")
    if row["status"] != "pending":
        raise Conflict(f"correction {correction_id} is already {row['status']}", "correction_id")
    if row["submitted_by"] == identity.subject:
        raise Forbidden("a correction is reviewed by someone other than its submitter")
    if decision == "reject":
        return dict(
            await store.review_correction(
                conn, correction_id, status="rejected", reviewed_by=identity.subject, note=note, before=None
            )
        )
    payload = row["payload"]
    await master_store.lock_master(conn)
    if row["kind"] == "address_grid":
        change: AddressGrid | CategoryOwner = AddressGrid(
            kind="address_grid", address=payload["address"], grid=payload["grid"]
        )
        validate(change, master)
        was = locate(payload["address"], None, None, master)
        before: dict[str, Any] = {"grid": was.grid, "street": was.street, "district": was.district, "how": was.how}
        await master_store.upsert_address_override(conn, payload["address_key"], payload["grid"], correction_id)
    else:
        change = CategoryOwner(
            kind="category_owner", category=payload["category"], lead=payload["lead"], assists=payload["assists"]
        )
        validate(change, master)
        category = master.categories[payload["category"]]
        before = {"lead": str(category.lead) if category.lead else None, "assists": [str(a) for a in category.assists]}
        await master_store.set_category_owner(
            conn, payload["category"], Responsibility.parse(payload["lead"]), payload["assists"]
        )
    revision = await master_store.bump_revision(conn)
    reviewed = dict(
        await store.review_correction(
            conn, correction_id, status="approved", reviewed_by=identity.subject, note=note, before=before
        )
    )
    reviewed["master_revision"] = revision
    return reviewed
