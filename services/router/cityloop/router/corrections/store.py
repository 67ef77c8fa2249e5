"""Data corrections' SQL: the corrections table is their trail."""

from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset


async def insert_correction(
    conn: Conn, *, kind: str, payload: dict[str, Any], reason: str, submitted_by: str, submitter_dept: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO corrections (kind, payload, reason, submitted_by, submitter_dept)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING *",
        kind,
        payload,
        reason,
        submitted_by,
        submitter_dept,
    )
    assert row is not None
    return row


async def get_correction(conn: Conn, correction_id: int, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM corrections WHERE id = $1" + (" FOR UPDATE" if lock else ""), correction_id
    )


#: Corrections: newest first.
CORRECTION_ORDER = Keyset(("submitted_at", "timestamptz"), ("id", "bigint"), descending=True)


async def list_corrections(
    conn: Conn, *, status: str | None, kind: str | None, limit: int, cursor: str | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM corrections WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)"
        f" AND {CORRECTION_ORDER.where(4)} ORDER BY {CORRECTION_ORDER.order_by()} LIMIT $3",
        status,
        kind,
        limit,
        *CORRECTION_ORDER.args(cursor),
    )


async def review_correction(
    conn: Conn, correction_id: int, *, status: str, reviewed_by: str, note: str | None, before: dict[str, Any] | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE corrections SET status = $2, reviewed_by = $3, review_note = $4, before = $5, reviewed_at = now()"
        " WHERE id = $1 RETURNING *",
        correction_id,
        status,
        reviewed_by,
        note,
        before,
    )
    assert row is not None
    return row


async def approved_category_corrections(conn: Conn) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM corrections WHERE status = 'approved' AND kind = 'category_owner' ORDER BY reviewed_at, id"
        )
    )


# --- signals behind proposals (proposals.py) ----------------------------------------------------------


async def insert_signal(
    conn: Conn, *, kind: str, ticket_id: str, category: str, from_owner: str, to_owner: str, at: Any
) -> None:
    await conn.execute(
        "INSERT INTO correction_signals (kind, ticket_id, category, from_owner, to_owner, at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        kind,
        ticket_id,
        category,
        from_owner,
        to_owner,
        at,
    )


async def signal_tickets(
    conn: Conn, *, kind: str, category: str, from_owner: str, to_owner: str, since: Any
) -> list[str]:
    """The distinct tickets behind the signals of one (kind, category, from, to) since ``since``."""
    rows = await conn.fetch(
        "SELECT ticket_id FROM correction_signals WHERE kind = $1 AND category = $2 AND from_owner = $3"
        " AND to_owner = $4 AND at > $5 GROUP BY ticket_id ORDER BY min(at)",
        kind,
        category,
        from_owner,
        to_owner,
        since,
    )
    return [r["ticket_id"] for r in rows]


async def pending_owner_proposal(conn: Conn, *, category: str, lead: str) -> bool:
    value = await conn.fetchval(
        "SELECT 1 FROM corrections WHERE status = 'pending' AND kind = 'category_owner'"
        " AND payload->>'category' = $1 AND payload->>'lead' = $2 LIMIT 1",
        category,
        lead,
    )
    return value is not None
