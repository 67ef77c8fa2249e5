"""Cases (并单): one handling for several citizens' tickets."""

from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset
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


async def open_cases(conn: Conn, category: str, since: datetime) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            # Only cases someone is working on: a case whose lead ticket waits for a dispatcher takes no joiners.
            "SELECT c.* FROM cases c JOIN tickets t ON t.ticket_id = c.lead_ticket"
            " WHERE c.status = 'open' AND c.category = $1 AND c.opened_at >= $2"
            " AND t.status IN ('dispatched', 'accepted')",
            category,
            since,
        )
    )


async def get_case(conn: Conn, case_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cases WHERE id = $1" + (" FOR UPDATE" if lock else ""), case_id)


async def case_of_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.* FROM cases c JOIN tickets t ON t.case_id = c.id WHERE t.ticket_id = $1", ticket_id
    )


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
