"""Every SQL statement of feedback, in one place."""

from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset


async def open_callback(
    conn: Conn, ticket_id: str, assignment_id: str | None, dept_code: str | None, opened_at: datetime
) -> int | None:
    value = await conn.fetchval(
        "INSERT INTO callbacks (ticket_id, assignment_id, dept_code, opened_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (ticket_id, assignment_id) DO NOTHING RETURNING id",
        ticket_id,
        assignment_id,
        dept_code,
        opened_at,
    )
    return int(value) if value is not None else None


#: The due list's order: oldest callback first.
DUE_ORDER = Keyset(("id", "bigint"))


async def due(conn: Conn, limit: int, cursor: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT * FROM callbacks WHERE status = 'due' AND {DUE_ORDER.where(2)} ORDER BY {DUE_ORDER.order_by()}"
        " LIMIT $1",
        limit,
        *DUE_ORDER.args(cursor),
    )


async def lock_due(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM callbacks WHERE ticket_id = $1 AND status = 'due' ORDER BY id DESC LIMIT 1 FOR UPDATE",
        ticket_id,
    )


async def record(conn: Conn, callback_id: int, *, solved: bool, satisfaction: str, note: str | None, by: str) -> None:
    await conn.execute(
        "UPDATE callbacks SET status = 'done', solved = $2, satisfaction = $3, note = $4, recorded_by = $5,"
        " recorded_at = now() WHERE id = $1",
        callback_id,
        solved,
        satisfaction,
        note,
        by,
    )
