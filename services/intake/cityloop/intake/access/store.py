"""The access log: every response that carried full personal data."""

from collections.abc import Sequence

import asyncpg

from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset

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


def record_access_into(
    q: Composed,
    name: str,
    *,
    subject: str,
    role: str,
    dept_code: str | None,
    ticket_id: str,
    fields: Sequence[str],
    purpose: str,
    gate: str,
) -> None:
    """``record_access`` as a CTE of ``q`` (db/composed.py)."""
    q.cte(
        name,
        "INSERT INTO access_log (subject, role, dept_code, ticket_id, fields, purpose)"
        f" SELECT {q.arg(subject, 'text')}, {q.arg(role, 'text')}, {q.arg(dept_code, 'text')},"
        f" {q.arg(ticket_id, 'text')}, {q.arg(list(fields), 'text[]')}, {q.arg(purpose, 'text')} WHERE {gate}",
    )


#: The access log: newest first.
ACCESS_LOG_ORDER = Keyset(("id", "bigint"), descending=True)


async def access_log(
    conn: Conn, *, ticket_id: str | None, subject: str | None, cursor: str | None, limit: int
) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM access_log WHERE ($1::text IS NULL OR ticket_id = $1) AND ($2::text IS NULL OR subject = $2)"
        f" AND {ACCESS_LOG_ORDER.where(4)} ORDER BY {ACCESS_LOG_ORDER.order_by()} LIMIT $3",
        ticket_id,
        subject,
        limit,
        *ACCESS_LOG_ORDER.args(cursor),
    )
