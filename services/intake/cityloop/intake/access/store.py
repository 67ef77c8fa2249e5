"""The access log: every response that carried full personal data."""

from collections.abc import Sequence

import asyncpg

from cityloop.common.db.pool import Conn

Record = asyncpg.Record


async def record_access(
    conn: Conn, *, subject: str, role: str, dept_code: str | None, ticket_id: str, fields: Sequence[str], purpose: str
) -> None:
    await conn.execute(
        "INSERT INTO access_log (subject, role, dept_code, ticket_id, fields, purpose) VALUES ($1, $2, $3, $4, $5, $6)",
        subject,
        role,
        dept_code,
        ticket_id,
        list(fields),
        purpose,
    )


async def access_log(
    conn: Conn, *, ticket_id: str | None, subject: str | None, after_id: int | None, limit: int
) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM access_log WHERE ($1::text IS NULL OR ticket_id = $1) AND ($2::text IS NULL OR subject = $2)"
        " AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        ticket_id,
        subject,
        after_id,
        limit,
    )
