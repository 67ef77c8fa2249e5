"""Shared by router's views (each domain's views.py): context, transaction, pages, refusals as errors."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cityloop.common.db.pool import Conn
from cityloop.common.runtime import ServiceRuntime
from cityloop.router.context import RouterContext
from cityloop.router.errors import ActionRefused

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, description="items to skip")]


class Page(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def page(rows: Sequence[asyncpg.Record | dict[str, Any]], total: int, limit: int, offset: int) -> Page:
    return Page(items=[dict(r) for r in rows], total=total, limit=limit, offset=offset)


def context(request: Request) -> RouterContext:
    ctx: RouterContext = request.app.state.router_ctx
    return ctx


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[Conn]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.pool.acquire() as conn, conn.transaction():
        yield conn


def http_error(exc: ActionRefused) -> HTTPException:
    body: dict[str, Any] = {"error": exc.error, "message": exc.message}
    if exc.field:
        body["fields"] = [{"field": exc.field, "problem": exc.message}]
    return HTTPException(exc.status, body)


async def refused_as_http_error(_: Request, exc: Exception) -> JSONResponse:
    """Registered on the app: a flow's ``ActionRefused`` becomes the shared JSON error, once, for all views."""
    assert isinstance(exc, ActionRefused)
    error = http_error(exc)
    return JSONResponse(error.detail, status_code=error.status_code)


def not_found(what: str, field: str) -> HTTPException:
    return http_error(ActionRefused(404, "not_found", f"no {what}", field))
