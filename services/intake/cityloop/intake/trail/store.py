"""The trail's SQL: the timeline, and the ticket's state and assignments as the trail changes them."""

from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.intake.trail import chain
from cityloop.intake.trail.projection import Assignment, TicketChange

Record = asyncpg.Record


async def lock_ticket_status(conn: Conn, ticket_id: str) -> str | None:
    value = await conn.fetchval("SELECT status FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
    return None if value is None else str(value)


async def apply_change(conn: Conn, ticket_id: str, change: TicketChange) -> None:
    await conn.execute(
        "UPDATE tickets SET"
        " status = coalesce($2, status),"
        " closed_at = CASE WHEN $2::text IS NULL THEN closed_at WHEN $3 THEN coalesce(closed_at, now()) END,"
        " dept_code = CASE WHEN $4::text IS NOT NULL THEN $4 WHEN dept_code = $5 OR $5 = '*' THEN NULL"
        " ELSE dept_code END,"
        " agency = CASE WHEN $4::text IS NOT NULL THEN $6 WHEN dept_code = $5 OR $5 = '*' THEN NULL ELSE agency END,"
        " district = coalesce($7, district), street = coalesce($8, street),"
        " mode = coalesce($9, mode), emergency_id = CASE WHEN $9::text IS NULL THEN emergency_id ELSE $10 END,"
        " resolve_by = coalesce($11, resolve_by), overdue = coalesce($12, overdue),"
        " status_notes = coalesce($13, status_notes), accept_by = coalesce($14, accept_by),"
        " on_site_by = coalesce($15, on_site_by), updated_at = now()"
        " WHERE id = $1",
        ticket_id,
        change.status.value if change.status else None,
        change.closed,
        change.dept_code,
        change.release_dept,
        change.agency,
        change.district,
        change.street,
        change.mode,
        change.emergency_id,
        change.resolve_by,
        change.overdue,
        change.status_notes,
        change.accept_by,
        change.on_site_by,
    )
    for assignment in change.assign:
        await add_assignment(conn, ticket_id, assignment)
    if change.end_assignment is not None:
        await conn.execute(
            "UPDATE ticket_assignments SET ended_at = now()"
            " WHERE ticket_id = $1 AND (assignment_id = $2 OR dept_code = $2) AND ended_at IS NULL",
            ticket_id,
            change.end_assignment,
        )
    if change.end_assignments:
        await conn.execute(
            "UPDATE ticket_assignments SET ended_at = now()"
            " WHERE ticket_id = $1 AND assignment_id = ANY($2::text[]) AND ended_at IS NULL",
            ticket_id,
            change.end_assignments,
        )
    if change.end_all_assignments:
        await conn.execute(
            "UPDATE ticket_assignments SET ended_at = now() WHERE ticket_id = $1 AND ended_at IS NULL", ticket_id
        )


async def add_assignment(conn: Conn, ticket_id: str, assignment: Assignment) -> None:
    await conn.execute(
        "INSERT INTO ticket_assignments (ticket_id, assignment_id, dept_code, role, assigned_at)"
        " VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
        ticket_id,
        assignment.assignment_id,
        assignment.dept_code,
        assignment.role,
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
    """Append one entry to the ticket's chain (chain.py). The caller holds the ticket's row lock, so the
    ticket's entries are chained one at a time; False when the event was already in the trail."""
    # An event already in the trail is caught by the INSERT's ON CONFLICT below, which leaves the head alone:
    # no separate look-up round trip on every new entry.
    head = await conn.fetchrow("SELECT chain_index, hash FROM trail_heads WHERE ticket_id = $1", ticket_id)
    index = 0 if head is None else head["chain_index"] + 1
    # Hash the values as PostgreSQL will store them (jsonb numbers, timestamptz precision).
    stored = await conn.fetchrow("SELECT $1::timestamptz AS time, $2::jsonb AS detail", time, detail)
    assert stored is not None
    entry = chain.Entry(ticket_id, index, event_id, type_, stored["time"], actor, summary, status, stored["detail"])
    digest = chain.entry_hash(None if head is None else head["hash"], entry)
    inserted = await conn.fetchval(
        "INSERT INTO ticket_timeline"
        " (ticket_id, event_id, type, time, actor, summary, status, detail, chain_index, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING RETURNING 1",
        ticket_id,
        event_id,
        type_,
        entry.time,
        actor,
        summary,
        status,
        entry.detail,
        index,
        digest,
    )
    if inserted is None:
        return False
    await conn.execute(
        "INSERT INTO trail_heads (ticket_id, chain_index, hash) VALUES ($1, $2, $3)"
        " ON CONFLICT (ticket_id) DO UPDATE SET chain_index = excluded.chain_index, hash = excluded.hash",
        ticket_id,
        index,
        digest,
    )
    return True


async def timeline(conn: Conn, ticket_id: str) -> list[Record]:
    return await conn.fetch(
        "SELECT seq, event_id, type, time, actor, summary, status, detail FROM ticket_timeline"
        " WHERE ticket_id = $1 ORDER BY chain_index",
        ticket_id,
    )
