"""The SQL of callbacks: the callbacks table, what feedback knows of each ticket, and the one-time links."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset


@dataclass(frozen=True)
class Place:
    district: str | None = None
    street: str | None = None
    category: str | None = None
    case_id: str | None = None


async def remember_ticket(conn: Conn, ticket_id: str, place: Place) -> None:
    """Keep the latest known place and case of a ticket; a field an event leaves out keeps its value."""
    await conn.execute(
        "INSERT INTO callback_tickets (ticket_id, district, street, category, case_id) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (ticket_id) DO UPDATE SET district = COALESCE(EXCLUDED.district, callback_tickets.district),"
        " street = COALESCE(EXCLUDED.street, callback_tickets.street),"
        " category = COALESCE(EXCLUDED.category, callback_tickets.category),"
        " case_id = COALESCE(EXCLUDED.case_id, callback_tickets.case_id)",
        ticket_id,
        place.district,
        place.street,
        place.category,
        place.case_id,
    )


async def ticket_place(conn: Conn, ticket_id: str) -> Place:
    row = await conn.fetchrow("SELECT * FROM callback_tickets WHERE ticket_id = $1", ticket_id)
    if row is None:
        return Place()
    return Place(row["district"], row["street"], row["category"], row["case_id"])


async def open_callback(
    conn: Conn,
    *,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    opened_at: datetime,
    opened_by: str,
    trigger: str,
    place: Place,
) -> asyncpg.Record | None:
    """A new due callback, numbered after the ticket's earlier rounds; None when one is open already."""
    return await conn.fetchrow(
        "INSERT INTO callbacks (ticket_id, assignment_id, dept_code, opened_at, opened_by, trigger, round,"
        " case_id, district, street, category)"
        " VALUES ($1, $2, $3, $4, $5, $6,"
        "  1 + (SELECT count(*) FROM callbacks WHERE ticket_id = $1 AND trigger = 'resolved'),"
        "  $7, $8, $9, $10)"
        " ON CONFLICT DO NOTHING RETURNING *",
        ticket_id,
        assignment_id,
        dept_code,
        opened_at,
        opened_by,
        trigger,
        place.case_id,
        place.district,
        place.street,
        place.category,
    )


async def resolution_stands(conn: Conn, ticket_id: str) -> bool:
    """Whether the ticket's latest callback asks, or asked, about a resolution that still stands: due, or
    answered without 重办 (a rehandle gives the ticket back to its department, and a deadline again)."""
    row = await conn.fetchrow(
        "SELECT trigger, verdict FROM callbacks WHERE ticket_id = $1 ORDER BY id DESC LIMIT 1", ticket_id
    )
    return row is not None and row["trigger"] == "resolved" and row["verdict"] != "rehandle"


async def open_of_ticket(conn: Conn, ticket_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM callbacks WHERE ticket_id = $1 AND status = 'due'" + (" FOR UPDATE" if lock else ""),
        ticket_id,
    )


async def lock(conn: Conn, callback_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM callbacks WHERE id = $1 FOR UPDATE", callback_id)


async def become_resolved(
    conn: Conn, callback_id: int, *, assignment_id: str | None, dept_code: str | None, opened_by: str
) -> asyncpg.Record:
    """An overdue callback still waiting when the department resolves now asks about the resolution."""
    row = await conn.fetchrow(
        "UPDATE callbacks SET trigger = 'resolved', assignment_id = COALESCE($2, assignment_id),"
        " dept_code = COALESCE($3, dept_code), opened_by = $4,"
        " round = 1 + (SELECT count(*) FROM callbacks c WHERE c.ticket_id = callbacks.ticket_id"
        "  AND c.trigger = 'resolved' AND c.id <> callbacks.id)"
        " WHERE id = $1 RETURNING *",
        callback_id,
        assignment_id,
        dept_code,
        opened_by,
    )
    assert row is not None
    return row


async def set_due_by(conn: Conn, ticket_id: str, due_by: datetime) -> None:
    await conn.execute("UPDATE callbacks SET due_by = $2 WHERE ticket_id = $1 AND status = 'due'", ticket_id, due_by)


async def claim(conn: Conn, callback_id: int, by: str, at: datetime) -> None:
    await conn.execute("UPDATE callbacks SET claimed_by = $2, claimed_at = $3 WHERE id = $1", callback_id, by, at)


async def failures(conn: Conn, ticket_id: str) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM callbacks WHERE ticket_id = $1 AND verdict = 'rehandle'", ticket_id
    )
    return int(value)


async def record(
    conn: Conn,
    callback_id: int,
    *,
    solved: bool,
    satisfaction: str,
    reason: str | None,
    note: str | None,
    verdict: str,
    by: str,
    via: str,
    at: datetime,
) -> None:
    await conn.execute(
        "UPDATE callbacks SET status = 'done', solved = $2, satisfaction = $3, reason = $4, note = $5,"
        " verdict = $6, recorded_by = $7, via = $8, recorded_at = $9, closed_at = $9 WHERE id = $1",
        callback_id,
        solved,
        satisfaction,
        reason,
        note,
        verdict,
        by,
        via,
        at,
    )


async def reschedule(conn: Conn, callback_id: int, *, attempts: int, next_attempt_at: datetime) -> None:
    # A rescheduled call is anyone's again at its time: the claim is released.
    await conn.execute(
        "UPDATE callbacks SET attempts = $2, next_attempt_at = $3, claimed_by = NULL, claimed_at = NULL WHERE id = $1",
        callback_id,
        attempts,
        next_attempt_at,
    )


async def unreachable(conn: Conn, callback_id: int, *, attempts: int, by: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE callbacks SET status = 'unreachable', attempts = $2, recorded_by = $3, recorded_at = $4,"
        " closed_at = $4 WHERE id = $1",
        callback_id,
        attempts,
        by,
        at,
    )


@dataclass(frozen=True)
class DueFilter:
    district: str | None = None
    dept_code: str | None = None
    overdue: bool | None = None
    #: Rescheduled calls whose next attempt is still ahead are left out unless asked for.
    include_scheduled: bool = False


#: The due list's order and cursor: oldest callback first.
DUE_ORDER = Keyset(("opened_at", "timestamptz"), ("id", "bigint"))


async def due(
    conn: Conn, flt: DueFilter, *, now: datetime, after: tuple[Any, ...] | None, limit: int
) -> list[asyncpg.Record]:
    """Due callbacks oldest first, keyset-paged on (opened_at, id)."""
    where = ["status = 'due'"]
    args: list[object] = [limit]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if flt.district is not None:
        where.append(f"district = {arg(flt.district)}")
    if flt.dept_code is not None:
        where.append(f"dept_code = {arg(flt.dept_code)}")
    if flt.overdue is True:
        where.append(f"due_by < {arg(now)}")
    elif flt.overdue is False:
        where.append(f"(due_by IS NULL OR due_by >= {arg(now)})")
    if not flt.include_scheduled:
        where.append(f"(next_attempt_at IS NULL OR next_attempt_at <= {arg(now)})")
    if after is not None:
        where.append(DUE_ORDER.comparison([arg(value) for value in after]))
    sql = f"SELECT * FROM callbacks WHERE {' AND '.join(where)} ORDER BY {DUE_ORDER.order_by()} LIMIT $1"
    return await conn.fetch(sql, *args)


async def due_counts(conn: Conn, *, now: datetime) -> list[asyncpg.Record]:
    """Due callbacks per district and overdue or not (the partial index callbacks_due holds only these)."""
    return await conn.fetch(
        "SELECT district, coalesce(due_by < $1, false) AS overdue, count(*)::int AS count FROM callbacks"
        " WHERE status = 'due' GROUP BY 1, 2",
        now,
    )


async def of_ticket(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM callbacks WHERE ticket_id = $1 ORDER BY id", ticket_id)


# --- one-time links -------------------------------------------------------------------------------------


async def insert_link(conn: Conn, *, callback_id: int, token_hash: str, issued_by: str, expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO callback_links (callback_id, token_hash, issued_by, expires_at) VALUES ($1, $2, $3, $4)",
        callback_id,
        token_hash,
        issued_by,
        expires_at,
    )


async def link_by_hash(conn: Conn, token_hash: str, *, lock: bool = False) -> asyncpg.Record | None:
    """The link and its callback's state, by the token's hash."""
    return await conn.fetchrow(
        "SELECT l.id, l.callback_id, l.expires_at, l.used_at, c.ticket_id, c.status AS callback_status"
        " FROM callback_links l JOIN callbacks c ON c.id = l.callback_id WHERE l.token_hash = $1"
        + (" FOR UPDATE OF l, c" if lock else ""),
        token_hash,
    )


async def use_link(conn: Conn, link_id: int, at: datetime) -> None:
    await conn.execute("UPDATE callback_links SET used_at = $2 WHERE id = $1", link_id, at)
