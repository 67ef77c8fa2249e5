"""/api/v1/departments, /categories, /jurisdictions: master data, read-only (changes go through corrections)."""

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from cityloop.common.identity import CurrentIdentity
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import unit_for
from cityloop.router.http import Limit, Offset, Page, context, not_found, page, transaction
from cityloop.router.masterdata import store

router = APIRouter(prefix="/api/v1", tags=["master data"])


@router.get("/departments", operation_id="departments_list", response_model=Page)
async def departments(
    *,
    request: Request,
    _: CurrentIdentity,
    limit: Limit = 50,
    offset: Offset = 0,
    type: str | None = None,
    level: Literal["city", "district", "street"] | None = None,
    district: str | None = None,
    street: str | None = None,
    q: str | None = Query(default=None, description="part of the name, or a code prefix"),
) -> Page:
    async with transaction(request) as conn:
        rows, total = await store.list_departments(
            conn, type_=type, level=level, district=district, street=street, q=q, limit=limit, offset=offset
        )
    return page(rows, total, limit, offset)


@router.get("/departments/{code}", operation_id="departments_get")
async def department(request: Request, code: str, _: CurrentIdentity) -> dict[str, Any]:
    async with transaction(request) as conn:
        row = await store.get_department(conn, code)
        if row is None:
            raise not_found(f"department {code}", "code")
        master = await context(request).master.current(conn)
    return {**dict(row), "supervisors": master.supervisors(master.departments[code])}


@router.get("/categories", operation_id="categories_list", response_model=Page)
async def categories(
    *,
    request: Request,
    _: CurrentIdentity,
    limit: Limit = 50,
    offset: Offset = 0,
    parent: str | None = Query(default=None, description="a branch of the tree, e.g. housing"),
    q: str | None = None,
    handover: bool | None = Query(default=None, description="only (or no) 110/119/120/122 categories"),
) -> Page:
    async with transaction(request) as conn:
        rows, total = await store.list_categories(
            conn, parent=parent, q=q, handover=handover, limit=limit, offset=offset
        )
    return page(rows, total, limit, offset)


@router.get("/categories/{code}", operation_id="categories_get")
async def category(request: Request, code: str, _: CurrentIdentity) -> dict[str, Any]:
    async with transaction(request) as conn:
        row = await store.get_category(conn, code)
    if row is None:
        raise not_found(f"category {code}", "code")
    return dict(row)


@router.get("/jurisdictions/resolve", operation_id="jurisdictions_resolve")
async def resolve(
    *,
    request: Request,
    _: CurrentIdentity,
    address: str | None = None,
    lat: float | None = Query(default=None, ge=-90, le=90),
    lon: float | None = Query(default=None, ge=-180, le=180),
    category: str | None = None,
) -> dict[str, Any]:
    """Where an address or a point lies (and, given a category, who would own it there)."""
    async with transaction(request) as conn:
        master = await context(request).master.current(conn)
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


@router.get("/jurisdictions/{level}", operation_id="jurisdictions_list", response_model=Page)
async def jurisdictions(
    *,
    request: Request,
    level: Literal["districts", "streets", "communities", "grids"],
    _: CurrentIdentity,
    limit: Limit = 50,
    offset: Offset = 0,
    parent: str | None = Query(default=None, description="the code of the level above"),
    q: str | None = Query(default=None, description="part of the name (a road for grids), or a code prefix"),
) -> Page:
    async with transaction(request) as conn:
        rows, total = await store.list_jurisdictions(conn, level, parent=parent, q=q, limit=limit, offset=offset)
    return page(rows, total, limit, offset)
