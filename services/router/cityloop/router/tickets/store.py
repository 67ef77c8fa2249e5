"""Router's copy of each ticket and the assignments it has had: the SQL every flow shares."""

from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn


async def get_ticket(conn: Conn, ticket_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    sql = "SELECT * FROM tickets WHERE ticket_id = $1" + (" FOR UPDATE" if lock else "")
    return await conn.fetchrow(sql, ticket_id)


async def set_ticket_status(conn: Conn, ticket_id: str, status: str) -> asyncpg.Record | None:
    """The ticket as it is now (None if router does not know it)."""
    return await conn.fetchrow(
        "UPDATE tickets SET status = $2, updated_at = now() WHERE ticket_id = $1 RETURNING *", ticket_id, status
    )


async def send_to_queue(conn: Conn, ticket_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE tickets SET status = 'needs_dispatcher', queue_reason = $2, queued_at = now(), updated_at = now()"
        " WHERE ticket_id = $1",
        ticket_id,
        reason,
    )


async def insert_assignment(
    conn: Conn,
    *,
    assignment_id: str,
    ticket_id: str,
    dept_code: str,
    role: str,
    reason: dict[str, Any],
    final: bool = False,
    mode: str = "peacetime",
    emergency_id: str | None = None,
    unit: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO assignments (id, ticket_id, dept_code, role, status, reason, final, mode, emergency_id, unit)"
        " VALUES ($1, $2, $3, $4, 'assigned', $5, $6, $7, $8, $9)",
        assignment_id,
        ticket_id,
        dept_code,
        role,
        reason,
        final,
        mode,
        emergency_id,
        unit,
    )


async def lock_assignment(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1 FOR UPDATE", assignment_id)


async def set_assignment_status(conn: Conn, assignment_id: str, status: str) -> None:
    await conn.execute("UPDATE assignments SET status = $2, updated_at = now() WHERE id = $1", assignment_id, status)


async def live_assignments(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM assignments WHERE ticket_id = $1 AND status IN ('assigned', 'accepted', 'reopened')"
            " ORDER BY created_at FOR UPDATE",
            ticket_id,
        )
    )


async def set_assignment_unit(conn: Conn, assignment_id: str, unit: dict[str, Any]) -> None:
    await conn.execute("UPDATE assignments SET unit = $2, updated_at = now() WHERE id = $1", assignment_id, unit)


async def withdraw_assignment(conn: Conn, assignment_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE assignments SET status = 'withdrawn', withdrawn_reason = $2, updated_at = now() WHERE id = $1",
        assignment_id,
        reason,
    )


async def assignments_of(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM assignments WHERE ticket_id = $1 ORDER BY created_at", ticket_id))
