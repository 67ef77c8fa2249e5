"""Cases (并单): one handling for several citizens' tickets."""

from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset
from cityloop.router.cases.rules import SearchBox
from cityloop.router.tickets.access import HELD


async def insert_case(
    conn: Conn,
    *,
    case_id: str,
    category: str,
    lead_ticket: str,
    point: tuple[float, float] | None,
    grid: str | None,
    opened_at: datetime,
    emergency_id: str | None = None,
) -> None:
    # The case and its lead ticket's link to it, in one statement.
    await conn.execute(
        "WITH opened AS (INSERT INTO cases (id, category, lead_ticket, lat, lon, grid, opened_at, emergency_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)"
        " UPDATE tickets SET case_id = opened.id, updated_at = now() FROM opened WHERE ticket_id = $3",
        case_id,
        category,
        lead_ticket,
        point[0] if point else None,
        point[1] if point else None,
        grid,
        opened_at,
        emergency_id,
    )


async def set_ticket_case(conn: Conn, ticket_id: str, case_id: str | None) -> None:
    await conn.execute("UPDATE tickets SET case_id = $2, updated_at = now() WHERE ticket_id = $1", ticket_id, case_id)


#: The first key of the case locks (pg_advisory_xact_lock(int, int)); the second is the category's hashtext.
CASE_LOCK_SPACE = 0x0CA5E


class CaseLockBusy(Exception):
    """This transaction already holds another category's case lock, and this one is taken: waiting could close
    a cycle with a transaction that waits for ours (a deadlock, found only after a second). Raised instead, so
    the consumer's batch rolls back and its events are applied one at a time, each holding a single lock."""


async def lock_category(conn: Conn, category: str) -> None:
    """Take ``category``'s case lock until the transaction ends: a near-duplicate routed at the same moment (on
    another partition, or by another replica) waits until this ticket's case is committed, and then sees it.
    A transaction WAITS only for its first case lock, so waits never form a cycle; see CaseLockBusy."""
    row = await conn.fetchrow(
        "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS got,"
        " EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        " AND objsubid = 2 AND classid = $1::oid AND objid <> hashtext($2)::oid) AS holds_another",
        CASE_LOCK_SPACE,
        category,
    )
    assert row is not None
    if row["got"]:
        return
    if row["holds_another"]:
        raise CaseLockBusy(category)
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", CASE_LOCK_SPACE, category)


async def open_cases(conn: Conn, category: str, since: datetime, box: SearchBox) -> list[asyncpg.Record]:
    """The open cases of ``category`` since ``since`` placed within ``box``, read under the category's case lock
    (lock_category), in a statement of their own: a READ COMMITTED snapshot is taken when a statement starts,
    so one taken before the wait would miss the case the other transaction was committing."""
    await lock_category(conn, category)
    return list(
        await conn.fetch(
            # Only cases someone is working on: a case whose lead ticket waits for a dispatcher takes no joiners.
            # The box is an index range (migrations/0011_case_search.sql).
            "SELECT c.* FROM cases c JOIN tickets t ON t.ticket_id = c.lead_ticket"
            " WHERE c.status = 'open' AND c.category = $1 AND c.opened_at >= $2"
            " AND c.lat BETWEEN $3 AND $4 AND c.lon BETWEEN $5 AND $6"
            " AND t.status IN ('dispatched', 'accepted')",
            category,
            since,
            box.lat_min,
            box.lat_max,
            box.lon_min,
            box.lon_max,
        )
    )


async def get_case(conn: Conn, case_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE id = $1" + (" FOR UPDATE" if lock else ""), case_id)


async def case_of_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.* FROM cases c JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = $1", ticket_id
    )


async def followers_of_lead(conn: Conn, ticket_id: str) -> tuple[str, list[str]] | None:
    """The case ``ticket_id`` leads and its other tickets (oldest first), or None when it leads none. One
    statement: it runs for every lead's accept and resolve, and nearly every ticket leads a case of its own."""
    rows = await conn.fetch(
        "SELECT c.id AS case_id, m.ticket_id FROM tickets t"
        " JOIN cases c ON c.id = t.case_id AND c.lead_ticket = t.ticket_id"
        " LEFT JOIN tickets m ON m.case_id = c.id AND m.ticket_id <> t.ticket_id"
        " WHERE t.ticket_id = $1 ORDER BY m.created_at, m.ticket_id",
        ticket_id,
    )
    if not rows:
        return None
    return str(rows[0]["case_id"]), [str(r["ticket_id"]) for r in rows if r["ticket_id"] is not None]


async def case_members(conn: Conn, case_id: str) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM tickets WHERE case_id = $1 ORDER BY created_at, ticket_id", case_id))


async def close_case(conn: Conn, case_id: str) -> None:
    await conn.execute("UPDATE cases SET status = 'closed' WHERE id = $1", case_id)


#: Cases: newest first.
CASE_ORDER = Keyset(("c.opened_at", "timestamptz"), ("c.id", "text"), descending=True)


async def list_cases(
    conn: Conn, *, status: str | None, limit: int, cursor: str | None, dept_code: str | None = None
) -> list[asyncpg.Record]:
    """``dept_code``: only cases in which that department holds an assignment (tickets/access.py HELD)."""
    return await conn.fetch(
        "SELECT c.*, (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) AS tickets FROM cases c"
        " WHERE ($1::text IS NULL OR c.status = $1) AND (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) > 1"
        " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM tickets t JOIN assignments a ON a.ticket_id = t.ticket_id"
        "  WHERE t.case_id = c.id AND a.dept_code = $3 AND a.status = ANY($4::text[])))"
        f" AND {CASE_ORDER.where(5)} ORDER BY {CASE_ORDER.order_by()} LIMIT $2",
        status,
        limit,
        dept_code,
        list(HELD),
        *CASE_ORDER.args(cursor),
    )


async def reopen_case(conn: Conn, case_id: str) -> None:
    """重办 of any one citizen's ticket reopens the whole case."""
    await conn.execute("UPDATE cases SET status = 'open' WHERE id = $1", case_id)
