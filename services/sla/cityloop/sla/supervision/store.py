"""督办 desk SQL: supervisions (one per clock) and 通报 notices."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset


@dataclass(frozen=True)
class Placed:
    """A 督办 step put a clock's late task on a desk (the firing loop, in its transaction)."""

    clock_id: int
    ticket_id: str
    assignment_id: str | None
    dept_code: str | None
    category: str | None
    kind: str
    due_at: datetime
    desk: str
    level: int
    desks: list[str]
    at: datetime


def _placed_row(p: Placed) -> tuple[object, ...]:
    return (
        p.clock_id,
        p.ticket_id,
        p.assignment_id,
        p.dept_code,
        p.category,
        p.kind,
        p.due_at,
        p.desk,
        p.level,
        p.desks,
        p.at,
    )


async def place(conn: Conn, placed: Sequence[Placed]) -> None:
    """Open each supervision, or move an existing one up to the step's desk (reopening it if closed)."""
    await conn.executemany(
        "INSERT INTO supervisions (clock_id, ticket_id, assignment_id, dept_code, category, kind, due_at, desk,"
        " level, desks, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (clock_id) DO UPDATE SET escalated_from = CASE WHEN supervisions.desk <> EXCLUDED.desk"
        " THEN supervisions.desk ELSE supervisions.escalated_from END, desk = EXCLUDED.desk,"
        " level = EXCLUDED.level, due_at = EXCLUDED.due_at, status = 'open', closed_at = NULL, closed_by = NULL",
        [_placed_row(p) for p in placed],
    )


@dataclass(frozen=True)
class Notice:
    clock_id: int
    ticket_id: str
    dept_code: str | None
    kind: str
    at: datetime


async def record_notices(conn: Conn, notices: Sequence[Notice]) -> None:
    await conn.executemany(
        "INSERT INTO lateness_notices (clock_id, fired_at, ticket_id, dept_code, kind) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING",
        [(n.clock_id, n.at, n.ticket_id, n.dept_code, n.kind) for n in notices],
    )


async def lock(conn: Conn, supervision_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM supervisions WHERE clock_id = $1 FOR UPDATE", supervision_id)


async def get(conn: Conn, supervision_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM supervisions WHERE clock_id = $1", supervision_id)


async def _changed(conn: Conn, supervision_id: int, assignments: str, *args: object) -> asyncpg.Record:
    """One supervision after ``SET <assignments>`` ($1 is its id, the arguments follow from $2)."""
    row = await conn.fetchrow(
        f"UPDATE supervisions SET {assignments} WHERE clock_id = $1 RETURNING *", supervision_id, *args
    )
    assert row is not None
    return row


async def urged(conn: Conn, supervision_id: int, note: str) -> asyncpg.Record:
    return await _changed(conn, supervision_id, "urges = urges + 1, last_note = $2", note)


async def deadline_set(conn: Conn, supervision_id: int, deadline: datetime, note: str | None) -> asyncpg.Record:
    return await _changed(
        conn,
        supervision_id,
        "supervised_deadline = $2, due_at = $2, last_note = coalesce($3, last_note)",
        deadline,
        note,
    )


async def escalated(conn: Conn, supervision_id: int, desk: str, note: str | None) -> asyncpg.Record:
    return await _changed(
        conn,
        supervision_id,
        "escalated_from = desk, desk = $2, level = level + 1, last_note = coalesce($3, last_note)",
        desk,
        note,
    )


async def closed(conn: Conn, supervision_id: int, by: str, note: str | None) -> asyncpg.Record:
    return await _changed(
        conn,
        supervision_id,
        "status = 'closed', closed_at = now(), closed_by = $2, last_note = coalesce($3, last_note)",
        by,
        note,
    )


#: A desk's list: oldest first.
SUPERVISION_ORDER = Keyset(("s.opened_at", "timestamptz"), ("s.clock_id", "bigint"))


async def list_supervisions(
    conn: Conn,
    *,
    desk: str | None,
    status: str | None,
    dept_code: str | None,
    kind: str | None,
    ticket_id: str | None,
    limit: int,
    cursor: str | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT s.* FROM supervisions s WHERE ($1::text IS NULL OR s.desk = $1)"
        " AND ($2::text IS NULL OR s.status = $2) AND ($3::text IS NULL OR s.dept_code = $3)"
        " AND ($4::text IS NULL OR s.kind = $4) AND ($5::text IS NULL OR s.ticket_id = $5)"
        f" AND {SUPERVISION_ORDER.where(7)} ORDER BY {SUPERVISION_ORDER.order_by()} LIMIT $6",
        desk,
        status,
        dept_code,
        kind,
        ticket_id,
        limit,
        *SUPERVISION_ORDER.args(cursor),
    )


async def notice_counts(
    conn: Conn, *, first_day: date, last_day: date, dept_code: str | None, tz: str
) -> list[asyncpg.Record]:
    """通报 per department in [first_day, last_day] (the city's days), most first."""
    return await conn.fetch(
        "SELECT dept_code, count(*) AS notices, count(DISTINCT ticket_id) AS tickets,"
        " min(fired_at) AS first_at, max(fired_at) AS last_at FROM lateness_notices"
        " WHERE (fired_at AT TIME ZONE $4)::date BETWEEN $1 AND $2 AND dept_code IS NOT NULL"
        " AND ($3::text IS NULL OR dept_code = $3)"
        " GROUP BY dept_code ORDER BY count(*) DESC, dept_code",
        first_day,
        last_day,
        dept_code,
        tz,
    )
