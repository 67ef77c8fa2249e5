"""The trail's SQL: the timeline, and the ticket's state and assignments as the trail changes them."""

import asyncpg

from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn
from cityloop.intake.trail import chain
from cityloop.intake.trail.projection import Assignment, TicketChange

Record = asyncpg.Record


#: ``append_timeline(head=UNKNOWN)``: the caller has not read the ticket's chain head; it is read here.
UNKNOWN = chain.Head("", -1, b"")


async def lock_ticket(conn: Conn, ticket_id: str) -> tuple[str, chain.Head | None] | None:
    """Lock the ticket's row and its chain head's; its status and that head (``UNKNOWN`` if the ticket has
    none yet: append_timeline reads it), or None if there is no such ticket.

    Both rows are locked in one statement so that, after waiting for another entry's transaction, the
    head is re-read at its newest (PostgreSQL re-fetches locked rows only; a joined row that is not
    locked would be the one from before the wait)."""
    row = await conn.fetchrow(
        "SELECT t.status, h.chain_index, h.hash FROM tickets t JOIN trail_heads h ON h.ticket_id = t.id"
        " WHERE t.id = $1 FOR UPDATE OF t, h",
        ticket_id,
    )
    if row is not None:
        return str(row["status"]), chain.Head(ticket_id, row["chain_index"], row["hash"])
    status = await conn.fetchval("SELECT status FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
    return None if status is None else (str(status), UNKNOWN)


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


async def chain_head(conn: Conn, ticket_id: str) -> chain.Head | None:
    row = await conn.fetchrow("SELECT chain_index, hash FROM trail_heads WHERE ticket_id = $1", ticket_id)
    return None if row is None else chain.Head(ticket_id, row["chain_index"], row["hash"])


async def append_timeline(conn: Conn, draft: chain.Draft, *, head: chain.Head | None = UNKNOWN) -> bool:
    """Append one entry to the ticket's chain (chain.py). The caller holds the ticket's row lock, so the
    ticket's entries are chained one at a time; ``head`` is the chain's head if the caller read it with
    that lock (None: the ticket has no entry yet). False when the event was already in the trail."""
    ticket_id = draft.ticket_id
    if head is UNKNOWN:
        head = await chain_head(conn, ticket_id)
    entry = draft.at(0 if head is None else head.chain_index + 1)
    digest = chain.entry_hash(None if head is None else head.hash, entry)
    # One statement: the entry, and the head moved to it only if the entry is new (an event already in the
    # trail is caught by ON CONFLICT, which leaves the head alone).
    inserted = await conn.fetchval(
        "WITH entry AS (INSERT INTO ticket_timeline"
        " (ticket_id, event_id, type, time, actor, summary, status, detail, chain_index, hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING RETURNING 1),"
        " head AS (INSERT INTO trail_heads (ticket_id, chain_index, hash) SELECT $1, $9, $10 FROM entry"
        " ON CONFLICT (ticket_id) DO UPDATE SET chain_index = excluded.chain_index, hash = excluded.hash)"
        " SELECT count(*) FROM entry",
        ticket_id,
        entry.event_id,
        entry.type,
        entry.time,
        entry.actor,
        entry.summary,
        entry.status,
        entry.detail,
        entry.chain_index,
        digest,
    )
    return bool(inserted)


def append_new_chain_into(q: Composed, name: str, drafts: list[chain.Draft], *, gate: str) -> None:
    """A new ticket's first entries (chain_index 0, 1, ...) and its chain head, as CTEs of ``q``
    (db/composed.py): for the creating statement, where there is no head to read yet."""
    rows: list[str] = []
    digest: bytes | None = None
    entries = [draft.at(index) for index, draft in enumerate(drafts)]
    for entry in entries:
        digest = chain.entry_hash(digest, entry)
        rows.append(
            "("
            + ", ".join(
                (
                    q.arg(entry.ticket_id, "text"),
                    q.arg(entry.event_id, "text"),
                    q.arg(entry.type, "text"),
                    q.arg(entry.time, "timestamptz"),
                    q.arg(entry.actor, "text"),
                    q.arg(entry.summary, "text"),
                    q.arg(entry.status, "text"),
                    q.arg(entry.detail, "jsonb"),
                    q.arg(entry.chain_index, "integer"),
                    q.arg(digest, "bytea"),
                )
            )
            + ")"
        )
    q.cte(
        name,
        "INSERT INTO ticket_timeline (ticket_id, event_id, type, time, actor, summary, status, detail, chain_index,"
        f" hash) SELECT v.* FROM (VALUES {', '.join(rows)}) AS v WHERE {gate} RETURNING 1",
    )
    last = entries[-1]
    q.cte(
        f"{name}_head",
        "INSERT INTO trail_heads (ticket_id, chain_index, hash)"
        f" SELECT {q.arg(last.ticket_id, 'text')}, {q.arg(last.chain_index, 'integer')}, {q.arg(digest, 'bytea')}"
        f" WHERE {gate}",
    )


async def timeline(conn: Conn, ticket_id: str) -> list[Record]:
    return await conn.fetch(
        "SELECT seq, event_id, type, time, actor, summary, status, detail FROM ticket_timeline"
        " WHERE ticket_id = $1 ORDER BY chain_index",
        ticket_id,
    )
