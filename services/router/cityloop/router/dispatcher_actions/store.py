"""The dispatcher's queue: tickets that need a person."""

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset

#: The dispatcher's queue: longest waiting first (a queued ticket always has queued_at).
QUEUE_ORDER = Keyset(("queued_at", "timestamptz"), ("ticket_id", "text"))


async def queue(
    conn: Conn,
    *,
    reason: str | None,
    category: str | None,
    district: str | None,
    limit: int,
    cursor: str | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM tickets WHERE status = 'needs_dispatcher' AND ($1::text IS NULL OR queue_reason = $1)"
        " AND ($2::text IS NULL OR category = $2) AND ($3::text IS NULL OR resolved->>'district' = $3)"
        f" AND {QUEUE_ORDER.where(5)} ORDER BY {QUEUE_ORDER.order_by()} LIMIT $4",
        reason,
        category,
        district,
        limit,
        *QUEUE_ORDER.args(cursor),
    )
