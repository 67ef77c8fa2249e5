"""Data corrections: a street or department reports that master data is wrong (an address belongs to
another grid; a category belongs to another department); a dispatcher or admin reviews it; once
approved it changes the master data routing uses from then on. The corrections table is the trail:
who asked, why, who decided, and what the data said before."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cityloop.common.db.pool import Conn
from cityloop.common.identity import Identity
from cityloop.router import queries
from cityloop.router.dispatcher import ActionRefused
from cityloop.router.location import address_key, locate, normalise, parse_road_number
from cityloop.router.masterdata import MasterData, Responsibility


class AddressGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["address_grid"]
    address: str = Field(min_length=2, max_length=200, description="an address with road and house number")
    grid: str = Field(min_length=1, description="the grid it really belongs to")


class CategoryOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["category_owner"]
    category: str
    lead: str = Field(description="level:type of the responsible department, e.g. street:street")
    assists: list[str] | None = Field(default=None, description="level:type of assisting departments")


Change = Annotated[AddressGrid | CategoryOwner, Field(discriminator="kind")]


class CorrectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    change: Change
    reason: str = Field(min_length=2, max_length=2000)


def _bad(message: str, field: str) -> ActionRefused:
    return ActionRefused(422, "validation_failed", message, field)


def validate(change: AddressGrid | CategoryOwner, master: MasterData) -> dict[str, Any]:
    """Pure: the stored payload of a valid correction, or ActionRefused naming the field."""
    if isinstance(change, AddressGrid):
        parsed = parse_road_number(normalise(change.address), master)
        if parsed is None or parsed[1] is None:
            raise _bad("the address must name a known road and a house number", "change.address")
        if change.grid not in master.grids:
            raise _bad(f"no grid {change.grid!r}", "change.grid")
        return {"address": change.address, "address_key": address_key(parsed[0], parsed[1]), "grid": change.grid}
    if change.category not in master.categories:
        raise _bad(f"no catalogue category {change.category!r}", "change.category")
    for field, value in [("change.lead", change.lead), *[("change.assists", a) for a in change.assists or []]]:
        try:
            resp = Responsibility.parse(value)
        except ValueError as exc:
            raise _bad(str(exc), field) from exc
        if not any(d.type == resp.type and d.level == resp.level for d in master.departments.values()):
            raise _bad(f"no department of type {resp.type} at {resp.level} level", field)
    return {"category": change.category, "lead": change.lead, "assists": change.assists}


async def submit(conn: Conn, master: MasterData, request: CorrectionRequest, identity: Identity) -> dict[str, Any]:
    payload = validate(request.change, master)
    row = await queries.insert_correction(
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
    row = await queries.get_correction(conn, correction_id, lock=True)
    if row is None:
        raise ActionRefused(404, "not_found", f"no correction {correction_id}", "correction_id")
    if row["status"] != "pending":
        raise ActionRefused(409, "conflict", f"correction {correction_id} is already {row['status']}", "correction_id")
    if row["submitted_by"] == identity.subject:
        raise ActionRefused(403, "forbidden", "a correction is reviewed by someone other than its submitter", None)
    if decision == "reject":
        return dict(
            await queries.review_correction(
                conn, correction_id, status="rejected", reviewed_by=identity.subject, note=note, before=None
            )
        )
    payload = row["payload"]
    await queries.lock_master(conn)
    if row["kind"] == "address_grid":
        change: AddressGrid | CategoryOwner = AddressGrid(
            kind="address_grid", address=payload["address"], grid=payload["grid"]
        )
        validate(change, master)
        was = locate(payload["address"], None, None, master)
        before: dict[str, Any] = {"grid": was.grid, "street": was.street, "district": was.district, "how": was.how}
        await queries.upsert_address_override(conn, payload["address_key"], payload["grid"], correction_id)
    else:
        change = CategoryOwner(
            kind="category_owner", category=payload["category"], lead=payload["lead"], assists=payload["assists"]
        )
        validate(change, master)
        category = master.categories[payload["category"]]
        before = {"lead": str(category.lead) if category.lead else None, "assists": [str(a) for a in category.assists]}
        await queries.set_category_owner(
            conn, payload["category"], Responsibility.parse(payload["lead"]), payload["assists"]
        )
    revision = await queries.bump_revision(conn)
    reviewed = dict(
        await queries.review_correction(
            conn, correction_id, status="approved", reviewed_by=identity.subject, note=note, before=before
        )
    )
    reviewed["master_revision"] = revision
    return reviewed
