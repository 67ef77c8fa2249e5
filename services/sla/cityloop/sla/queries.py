"""Every SQL statement of sla, in one place."""

from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn


async def open_clock(
    conn: Conn,
    *,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    kind: str,
    started_at: datetime,
    warn_at: datetime | None,
    due_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO clocks (ticket_id, assignment_id, dept_code, kind, started_at, warn_at, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (ticket_id, kind, assignment_id) DO NOTHING",
        ticket_id,
        assignment_id,
        dept_code,
        kind,
        started_at,
        warn_at,
        due_at,
    )


async def close_clocks(conn: Conn, ticket_id: str, kind: str) -> list[asyncpg.Record]:
    """Mark the ticket's open clocks of ``kind`` as met; returns them."""
    return await conn.fetch(
        "UPDATE clocks SET state = 'met', closed_at = now()"
        " WHERE ticket_id = $1 AND kind = $2 AND state = 'open' RETURNING *",
        ticket_id,
        kind,
    )


async def claim_due_warnings(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "UPDATE clocks SET warned_at = $1 WHERE id IN ("
        "  SELECT id FROM clocks WHERE state = 'open' AND warned_at IS NULL AND warn_at <= $1"
        "  ORDER BY warn_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
        now,
        limit,
    )


async def claim_due_breaches(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "UPDATE clocks SET state = 'breached', breached_at = $1 WHERE id IN ("
        "  SELECT id FROM clocks WHERE state = 'open' AND due_at <= $1"
        "  ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
        now,
        limit,
    )


async def open_clocks_of(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM clocks WHERE ticket_id = $1 ORDER BY id", ticket_id)
