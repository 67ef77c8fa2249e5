"""退单: each rejection of a ticket, and how many it has had."""

import asyncpg

from cityloop.common.db.pool import Conn


async def count_rejection(conn: Conn, ticket_id: str) -> int:
    return int(
        await conn.fetchval(
            "UPDATE tickets SET rejections = rejections + 1 WHERE ticket_id = $1 RETURNING rejections", ticket_id
        )
    )


async def insert_rejection(
    conn: Conn,
    *,
    ticket_id: str,
    assignment_id: str,
    dept_code: str,
    reason: str,
    suggested_dept: str | None,
    outcome: str,
) -> None:
    await conn.execute(
        "INSERT INTO rejections (ticket_id, assignment_id, dept_code, reason, suggested_dept, outcome)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        ticket_id,
        assignment_id,
        dept_code,
        reason,
        suggested_dept,
        outcome,
    )


async def rejections_of(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM rejections WHERE ticket_id = $1 ORDER BY id", ticket_id))
