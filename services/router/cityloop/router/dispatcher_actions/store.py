"""The dispatcher's queue: tickets that need a person."""

import asyncpg

from cityloop.common.db.pool import Conn


async def queue(
    conn: Conn,
    *,
    reason: str | None,
    category: str | None,
    district: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = (
        "status = 'needs_dispatcher' AND ($1::text IS NULL OR queue_reason = $1)"
        " AND ($2::text IS NULL OR category = $2) AND ($3::text IS NULL OR resolved->>'district' = $3)"
    )
    rows = await conn.fetch(
        f"SELECT * FROM tickets WHERE {where} ORDER BY queued_at, ticket_id LIMIT $4 OFFSET $5",
        reason,
        category,
        district,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM tickets WHERE {where}", reason, category, district)
    return list(rows), int(total)
