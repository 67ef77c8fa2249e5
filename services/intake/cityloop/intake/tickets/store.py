"""A ticket as intake stores it: its row, its citizen (apart), its idempotency key, and reading it back."""

from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn

Record = asyncpg.Record


async def next_ticket_id(conn: Conn) -> str:
    # Human-readable: the hotline reads it out to the citizen (e.g. T20261122-0000123).
    value = await conn.fetchval(
        "SELECT 'T' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'"
        " || lpad(nextval('ticket_number')::text, 7, '0')"
    )
    return str(value)


async def insert_ticket(conn: Conn, ticket: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO tickets (id, channel, category, description, location, urgency, status, operator,"
        " attachments, attributes, created_by, direct_answer, created_at, updated_at, closed_at, status_notes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15)",
        ticket["id"],
        ticket["channel"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["status"],
        ticket["operator"],
        ticket["attachments"],
        ticket["attributes"],
        ticket["created_by"],
        ticket["direct_answer"],
        ticket["created_at"],
        ticket["closed_at"],
        ticket["status_notes"],
    )


async def insert_citizen(conn: Conn, ticket_id: str, citizen: dict[str, Any]) -> None:
    await conn.execute(
        # The person's own data is sealed in ticket_vault (vault/flows.py); a company's name is not personal.
        "INSERT INTO ticket_citizens (ticket_id, is_company, company) VALUES ($1, $2, $3)",
        ticket_id,
        citizen.get("is_company", False),
        citizen.get("company"),
    )


async def claim_idempotency_key(conn: Conn, principal: str, key: str, request_hash: str, ticket_id: str) -> bool:
    # A concurrent twin waits here on the primary key until the first transaction commits or aborts.
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (principal, key, request_hash, ticket_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (principal, key) DO NOTHING RETURNING 1",
        principal,
        key,
        request_hash,
        ticket_id,
    )
    return inserted is not None


async def find_idempotency_key(conn: Conn, principal: str, key: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, ticket_id FROM idempotency_keys WHERE principal = $1 AND key = $2", principal, key
    )


#: The ticket with its citizen as everyone may see it: masked forms and the contact reference (ticket_vault).
TICKET_COLUMNS = (
    "t.*, v.masked AS citizen_masked, v.contact_ref, c.is_company AS citizen_is_company, c.company AS citizen_company"
)
#: FROM clause matching TICKET_COLUMNS.
TICKET_FROM = (
    "tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id LEFT JOIN ticket_vault v ON v.ticket_id = t.id"
)


async def get_ticket(conn: Conn, ticket_id: str) -> Record | None:
    return await conn.fetchrow(
        f"SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.id = $1",
        ticket_id,
    )


async def ticket_access(conn: Conn, ticket_id: str) -> Record | None:
    """created_by, every department that held the ticket, and those holding it now."""
    return await conn.fetchrow(
        "SELECT t.created_by,"
        " coalesce(array_agg(DISTINCT a.dept_code) FILTER (WHERE a.dept_code IS NOT NULL), '{}') AS depts_ever,"
        " coalesce(array_agg(DISTINCT a.dept_code) FILTER (WHERE a.ended_at IS NULL), '{}') AS depts_now"
        " FROM tickets t LEFT JOIN ticket_assignments a ON a.ticket_id = t.id WHERE t.id = $1 GROUP BY t.id",
        ticket_id,
    )


async def ticket_exists(conn: Conn, ticket_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)", ticket_id))
