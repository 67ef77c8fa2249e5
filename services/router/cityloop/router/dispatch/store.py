"""Dispatch's SQL: a new ticket arrives (once), and its routing decision is recorded."""

from typing import Any

from cityloop.common.db.pool import Conn


async def upsert_ticket(conn: Conn, ticket: dict[str, Any]) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO tickets (ticket_id, category, description, location, urgency, citizen, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (ticket_id) DO NOTHING RETURNING 1",
        ticket["ticket_id"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["citizen"],
        ticket["status"],
        ticket["created_at"],
    )
    return inserted is not None


async def record_decision(
    conn: Conn,
    ticket_id: str,
    *,
    status: str,
    category: str | None,
    classification: dict[str, Any],
    resolved: dict[str, Any],
    decision: dict[str, Any],
    queue_reason: str | None,
    emergency_id: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE tickets SET status = $2, category = COALESCE($3, category), classification = $4, resolved = $5,"
        " decision = $6, queue_reason = $7, emergency_id = $8,"
        " district = $5::jsonb -> 'chain' ->> 'district', street = $5::jsonb -> 'chain' ->> 'street',"
        " queued_at = CASE WHEN $7::text IS NULL THEN NULL ELSE now() END, updated_at = now()"
        " WHERE ticket_id = $1",
        ticket_id,
        status,
        category,
        classification,
        resolved,
        decision,
        queue_reason,
        emergency_id,
    )
