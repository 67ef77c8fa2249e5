"""GET /api/v1/hotspots: the areas with the most tickets of one category in a period, and the fastest rising."""

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query

from cityloop.common.db.pool import Conn
from cityloop.common.deps import Db
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.feedback.hotspots import store
from cityloop.feedback.hotspots.models import Hotspot, HotspotsOut, HotspotWindow
from cityloop.feedback.signals.buckets import Level, Period, Window, window

router = APIRouter(prefix="/api/v1/hotspots", tags=["hotspots"])


# Hot spots are aggregate counts without personal data: every signed-in role of the hotline may read them.
Reader = Annotated[
    Identity,
    require_roles(Role.CALL_TAKER, Role.DISPATCHER, Role.DEPARTMENT, Role.COMMAND_CENTRE, Role.AUDITOR, Role.ADMIN),
]


def span_of(w: Window) -> store.Span:
    return store.Span(kind=w.kind, previous_start=w.previous_start, start=w.start, end=w.end)


def _item(rank: int, level: Level, row: asyncpg.Record, trend: dict[datetime, int], w: Window) -> Hotspot:
    count, previous = int(row["count"]), int(row["previous"])
    return Hotspot(
        rank=rank,
        level=level,
        area=row["area"],
        district=row["district"],
        category=row["category"],
        category_group=row["category"].split(".", 1)[0],
        count=count,
        previous=previous,
        change=count - previous,
        change_ratio=round((count - previous) / previous, 4) if previous else None,
        trend=[trend.get(b.astimezone(UTC), 0) for b in w.buckets],
    )


async def _ranked(
    conn: Conn, *, level: Level, span: store.Span, limit: int, district: str | None, group: str | None
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    by_count = await store.ranked(
        conn, level=level, span=span, order="count", limit=limit, district=district, category_group=group
    )
    by_rise = await store.ranked(
        conn, level=level, span=span, order="rise", limit=limit, district=district, category_group=group
    )
    return by_count, by_rise


@router.get("", operation_id="list_hotspots", response_model=HotspotsOut)
async def hotspots(
    *,
    conn: Db,
    _who: Reader,
    period: Annotated[Period, Query(description="day: the last 24 hours; week, month: the last 7 or 30 days")],
    level: Annotated[Level, Query()] = "street",
    district: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    category_group: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    at: Annotated[datetime | None, Query(description="the moment the period ends (default: now)")] = None,
) -> HotspotsOut:
    as_of = at or datetime.now(UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)  # a time without an offset is read as UTC
    w = window(period, as_of)
    span = span_of(w)
    top, rising = await _ranked(conn, level=level, span=span, limit=limit, district=district, group=category_group)
    keys = sorted({(r["area"], r["category"]) for r in [*top, *rising]})
    trends = await store.buckets(conn, level=level, span=span, keys=keys)
    return HotspotsOut(
        period=period,
        level=level,
        as_of=as_of,
        window=HotspotWindow(bucket=w.kind, start=w.start, end=w.end, previous_start=w.previous_start),
        items=[_item(i, level, r, trends.get((r["area"], r["category"]), {}), w) for i, r in enumerate(top, 1)],
        rising=[_item(i, level, r, trends.get((r["area"], r["category"]), {}), w) for i, r in enumerate(rising, 1)],
    )
