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


#: The ticket's row as a TicketChange moves it, only if the entry is new: a CTE of append_timeline's statement,
#: the ticket id in $1 and the change's 14 values (_change_args) after the entry's ten, in $11..$24.
_CHANGED = (
    " changed AS (UPDATE tickets SET"
    " status = coalesce($11, status),"
    " closed_at = CASE WHEN $11::text IS NULL THEN closed_at WHEN $12 THEN coalesce(closed_at, now()) END,"
    " dept_code = CASE WHEN $13::text IS NOT NULL THEN $13 WHEN dept_code = $14 OR $14 = '*' THEN NULL"
    " ELSE dept_code END,"
    " agency = CASE WHEN $13::text IS NOT NULL THEN $15 WHEN dept_code = $14 OR $14 = '*' THEN NULL ELSE agency END,"
    " district = coalesce($16, district), street = coalesce($17, street),"
    " mode = coalesce($18, mode), emergency_id = CASE WHEN $18::text IS NULL THEN emergency_id ELSE $19 END,"
    " resolve_by = coalesce($20, resolve_by), overdue = coalesce($21, overdue),"
    " status_notes = coalesce($22, status_notes), accept_by = coalesce($23, accept_by),"
    " on_site_by = coalesce($24, on_site_by), updated_at = now()"
    " WHERE id = $1 AND EXISTS (SELECT FROM entry)),"
)


def _change_args(change: TicketChange) -> tuple[object, ...]:
    return (
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


async def apply_assignments(conn: Conn, ticket_id: str, change: TicketChange) -> None:
    """The ticket's assignments as ``change`` moves them (most events move none: no statement then)."""
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


_ENTRY = (
    "WITH entry AS (INSERT INTO ticket_timeline"
    " (ticket_id, event_id, type, time, actor, summary, status, detail, chain_index, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING RETURNING 1),"
)
_HEAD = (
    " head AS (INSERT INTO trail_heads (ticket_id, chain_index, hash) SELECT $1, $9, $10 FROM entry"
    " ON CONFLICT (ticket_id) DO UPDATE SET chain_index = excluded.chain_index, hash = excluded.hash)"
    " SELECT count(*) FROM entry"
)
_APPEND = _ENTRY + _HEAD
_APPEND_CHANGED = _ENTRY + _CHANGED + _HEAD


async def append_timeline(
    conn: Conn, draft: chain.Draft, *, head: chain.Head | None = UNKNOWN, change: TicketChange | None = None
) -> bool:
    """Append one entry to the ticket's chain (chain.py). The caller holds the ticket's row lock, so the
    ticket's entries are chained one at a time; ``head`` is the chain's head if the caller read it with
    that lock (None: the ticket has no entry yet). False when the event was already in the trail.
    ``change``: the ticket's row is updated as it says in the same statement, only if the entry is new (its
    assignments are the caller's: apply_assignments)."""
    ticket_id = draft.ticket_id
    if head is UNKNOWN:
        head = await chain_head(conn, ticket_id)
    entry = draft.at(0 if head is None else head.chain_index + 1)
    digest = chain.entry_hash(None if head is None else head.hash, entry)
    # One statement: the entry, and the head moved to it only if the entry is new (an event already in the
    # trail is caught by ON CONFLICT, which leaves the head alone); with a change, the ticket's row too (one
    # round trip of the three a lifecycle event cost here). Both texts are built once, at import.
    inserted = await conn.fetchval(
        _APPEND if change is None else _APPEND_CHANGED,
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
        *(_change_args(change) if change is not None else ()),
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
