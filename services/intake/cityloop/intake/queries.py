"""Every SQL statement of intake, in one place."""

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
        "INSERT INTO tickets (id, channel, category, description, location, urgency, status, operator)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ticket["id"],
        ticket["channel"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["status"],
        ticket["operator"],
    )


async def insert_citizen(conn: Conn, ticket_id: str, citizen: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO ticket_citizens (ticket_id, name, phone, id_number, address, is_company)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        ticket_id,
        citizen.get("name"),
        citizen.get("phone"),
        citizen.get("id_number"),
        citizen.get("address"),
        citizen.get("is_company", False),
    )


async def claim_idempotency_key(conn: Conn, key: str, request_hash: str, ticket_id: str) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (key, request_hash, ticket_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (key) DO NOTHING RETURNING 1",
        key,
        request_hash,
        ticket_id,
    )
    return inserted is not None


async def find_idempotency_key(conn: Conn, key: str) -> Record | None:
    return await conn.fetchrow("SELECT request_hash, ticket_id FROM idempotency_keys WHERE key = $1", key)


async def get_ticket(conn: Conn, ticket_id: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT t.*, c.name AS citizen_name, c.phone AS citizen_phone, c.id_number AS citizen_id_number,"
        " c.address AS citizen_address, c.is_company AS citizen_is_company"
        " FROM tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id WHERE t.id = $1",
        ticket_id,
    )


async def append_timeline(
    conn: Conn,
    *,
    ticket_id: str,
    event_id: str,
    type_: str,
    time: Any,
    actor: str,
    summary: str,
    status: str | None,
    detail: dict[str, Any],
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO ticket_timeline (ticket_id, event_id, type, time, actor, summary, status, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING RETURNING 1",
        ticket_id,
        event_id,
        type_,
        time,
        actor,
        summary,
        status,
        detail,
    )
    return inserted is not None


async def update_status(conn: Conn, ticket_id: str, status: str, dept_code: str | None, closed: bool) -> None:
    await conn.execute(
        "UPDATE tickets SET status = $2, dept_code = COALESCE($3, dept_code), updated_at = now(),"
        " closed_at = CASE WHEN $4 THEN now() ELSE NULL END WHERE id = $1",
        ticket_id,
        status,
        dept_code,
        closed,
    )


async def timeline(conn: Conn, ticket_id: str) -> list[Record]:
    return await conn.fetch("SELECT * FROM ticket_timeline WHERE ticket_id = $1 ORDER BY seq", ticket_id)


async def ticket_exists(conn: Conn, ticket_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)", ticket_id))
