"""/api/v1/departments, /categories, /jurisdictions: master data, read-only (changes go through corrections)."""

from typing import Any, Literal

from fastapi import APIRouter, Query

from cityloop.common.deps import Db
from cityloop.common.errors import NotFound
from cityloop.common.identity import CurrentIdentity
from cityloop.common.paging import Cursor, Limit, Page
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import unit_for
from cityloop.router.http import Ctx
from cityloop.router.masterdata import store

router = APIRouter(prefix="/api/v1", tags=["master data"])


@router.get("/departments", operation_id="departments_list")
async def departments(
    *,
    _: CurrentIdentity,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    type: str | None = None,
    level: Literal["city", "district", "street"] | None = None,
    district: str | None = None,
    street: str | None = None,
    q: str | None = Query(default=None, description="part of the name, or a code prefix"),
) -> Page[dict[str, Any]]:
    """By code."""
    rows = await store.list_departments(
        conn, type_=type, level=level, district=district, street=street, q=q, limit=limit + 1, cursor=cursor
    )
    return store.BY_CODE.page(rows, limit, dict)


@router.get("/departments/{code}", operation_id="departments_get")
async def department(code: str, _: CurrentIdentity, ctx: Ctx, conn: Db) -> dict[str, Any]:
    row = await store.get_department(conn, code)
    if row is None:
        raise NotFound(f"no department {code}", "code")
    master = await ctx.master.current(conn)
    return {**dict(row), "supervisors": master.supervisors(master.departments[code])}


@router.get("/categories", operation_id="categories_list")
async def categories(
    *,
    _: CurrentIdentity,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    parent: str | None = Query(default=None, description="a branch of the tree, e.g. housing"),
    q: str | None = None,
    handover: bool | None = Query(default=None, description="only (or no) 110/119/120/122 categories"),
) -> Page[dict[str, Any]]:
    """By code."""
    rows = await store.list_categories(conn, parent=parent, q=q, handover=handover, limit=limit + 1, cursor=cursor)
    return store.BY_CODE.page(rows, limit, dict)


@router.get("/categories/{code}", operation_id="categories_get")
async def category(code: str, _: CurrentIdentity, conn: Db) -> dict[str, Any]:
    row = await store.get_category(conn, code)
    if row is None:
        raise NotFound(f"no category {code}", "code")
    return dict(row)


@router.get("/jurisdictions/resolve", operation_id="jurisdictions_resolve")
async def resolve(
    *,
    _: CurrentIdentity,
    ctx: Ctx,
    conn: Db,
    address: str | None = None,
    lat: float | None = Query(default=None, ge=-90, le=90),
    lon: float | None = Query(default=None, ge=-180, le=180),
    category: str | None = None,
) -> dict[str, Any]:
    """Where an address or a point lies (and, given a category, who would own it there)."""
    master = await ctx.master.current(conn)
    found = locate(address, lat, lon, master)
    body: dict[str, Any] = {
        "resolved": found.resolved,
        "level": found.level,
        "district": found.district,
        "street": found.street,
        "community": found.community,
        "grid": found.grid,
        "how": found.how,
        "problem": found.problem,
        "description": found.describe(master),
    }
    if category and (cat := master.categories.get(category)) and cat.lead is not None:
        unit = unit_for(cat.lead, found, master)
        body["owner"] = unit.code if unit else None
    return body


@router.get("/jurisdictions/{level}", operation_id="jurisdictions_list")
async def jurisdictions(
    *,
    level: Literal["districts", "streets", "communities", "grids"],
    _: CurrentIdentity,
    conn: Db,
    limit: Limit = 50,
    cursor: Cursor = None,
    parent: str | None = Query(default=None, description="the code of the level above"),
    q: str | None = Query(default=None, description="part of the name (a road for grids), or a code prefix"),
) -> Page[dict[str, Any]]:
    """By code."""
    rows = await store.list_jurisdictions(conn, level, parent=parent, q=q, limit=limit + 1, cursor=cursor)
    return store.BY_CODE.page(rows, limit, dict)
