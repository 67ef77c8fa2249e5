"""/api/v1/scores: 三率 per department, street, district or the city, and the drill-down behind them."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cityloop.common.db.pool import PgPool
from cityloop.common.deps import Pool
from cityloop.common.errors import Forbidden
from cityloop.common.identity import Identity, require_roles
from cityloop.common.paging import BadCursor, Cursor
from cityloop.feedback.scores import reading, store
from cityloop.feedback.scores.access import READERS, DeptArea, visible_keys
from cityloop.feedback.scores.models import CountedPage, ScoresOut
from cityloop.feedback.scores.rules import BASICALLY_SATISFIED_WEIGHT, Level, Period, period_days

router = APIRouter(prefix="/api/v1/scores", tags=["scores"])


Reader = Annotated[Identity, require_roles(*READERS)]
By = Annotated[Level, Query(description="department, street, district or city")]
PeriodParam = Annotated[Period, Query(description="day, week (ISO, Monday-Sunday) or calendar month")]
DateParam = Annotated[date, Query(alias="date", description="a day in the period, YYYY-MM-DD (the city's day)")]
ModeParam = Annotated[
    Literal["peacetime", "emergency"], Query(description="emergency tickets are scored apart from peacetime")
]


def _query(by: Level, period: Period, day: date, mode: str) -> reading.Query:
    first, last = period_days(period, day)
    return reading.Query(by=by, period=period, day=day, mode=mode, first=first, last=last)


async def _visible(pool: PgPool, who: Identity, level: Level) -> frozenset[str] | None:
    area = None
    if who.dept_code:
        async with pool.acquire() as conn:
            row = await store.get_department(conn, who.dept_code)
        area = DeptArea(row["district"], row["street"]) if row is not None else None
    return visible_keys(who, level, area)


@router.get("", operation_id="scores_list", response_model=ScoresOut)
async def scores(
    *,
    pool: Pool,
    who: Reader,
    by: By,
    period: PeriodParam,
    day: DateParam,
    mode: ModeParam = "peacetime",
) -> ScoresOut:
    q = _query(by, period, day, mode)
    visible = await _visible(pool, who, by)
    async with pool.acquire() as conn:
        items = await reading.scores(conn, q, visible)
    return ScoresOut(
        by=by.value,
        period=period.value,
        mode=mode,
        date=day,
        first_day=q.first,
        last_day=q.last,
        basically_satisfied_weight=BASICALLY_SATISFIED_WEIGHT,
        items=items,
    )


@router.get("/tickets", operation_id="scores_tickets", response_model=CountedPage)
async def tickets(
    *,
    pool: Pool,
    who: Reader,
    by: By,
    key: Annotated[str, Query(min_length=1, max_length=64, description="the item, as in the scores list")],
    period: PeriodParam,
    day: DateParam,
    mode: ModeParam = "peacetime",
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    cursor: Cursor = None,
) -> CountedPage:
    visible = await _visible(pool, who, by)
    if visible is not None and key not in visible:
        raise Forbidden(f"the scores of {by.value} {key} are not yours to read", "key")
    try:
        reading.decode_cursor(cursor)
    except ValueError as exc:
        raise BadCursor() from exc
    async with pool.acquire() as conn:
        items, next_cursor = await reading.counted(conn, _query(by, period, day, mode), key, cursor=cursor, limit=limit)
    return CountedPage(items=items, next_cursor=next_cursor)
