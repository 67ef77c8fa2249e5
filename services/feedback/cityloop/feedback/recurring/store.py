"""Every SQL statement of the recurring-problem detector."""

from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset
from cityloop.feedback.recurring.rules import Place


async def remember_location(
    conn: Conn, ticket_id: str, address: str | None, lat: float | None, lon: float | None
) -> None:
    await conn.execute(
        "INSERT INTO recurring_tickets (ticket_id, address, lat, lon) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (ticket_id) DO UPDATE SET address = EXCLUDED.address, lat = EXCLUDED.lat, lon = EXCLUDED.lon",
        ticket_id,
        address,
        lat,
        lon,
    )


async def remember_place(
    conn: Conn,
    ticket_id: str,
    *,
    district: str | None,
    street: str | None,
    grid: str | None,
    category: str | None,
    dept_code: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO recurring_tickets (ticket_id, district, street, grid, category, dept_code)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ticket_id) DO UPDATE SET district = EXCLUDED.district,"
        " street = EXCLUDED.street, grid = EXCLUDED.grid, category = EXCLUDED.category,"
        " dept_code = EXCLUDED.dept_code",
        ticket_id,
        district,
        street,
        grid,
        category,
        dept_code,
    )


async def get_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM recurring_tickets WHERE ticket_id = $1", ticket_id)


async def add_signal(
    conn: Conn, key: str, *, kind: str, ticket_id: str, place: Place, category: str, at: datetime
) -> bool:
    value = await conn.fetchval(
        "INSERT INTO recurring_signals (signal_key, kind, ticket_id, place_level, place, category, at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (signal_key) DO NOTHING RETURNING 1",
        key,
        kind,
        ticket_id,
        place.level,
        place.code,
        category,
        at,
    )
    return value is not None


async def last_conversion(conn: Conn, place: Place, category: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        "SELECT max(converted_at) FROM recurring_problems WHERE place_level = $1 AND place = $2 AND category = $3",
        place.level,
        place.code,
        category,
    )
    return value


async def signals_since(conn: Conn, place: Place, category: str, since: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kind, ticket_id, at FROM recurring_signals WHERE place_level = $1 AND place = $2 AND category = $3"
        " AND at > $4 ORDER BY at",
        place.level,
        place.code,
        category,
        since,
    )


async def upsert_open_problem(conn: Conn, values: dict[str, object]) -> int:
    """Open the place's problem, or bring the open one up to date; returns its id."""
    value = await conn.fetchval(
        "INSERT INTO recurring_problems (place_level, place, category, district, street, reason, requests,"
        " dissatisfied, tickets, first_at, last_at, dept_code, address, lat, lon, flagged_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $11)"
        " ON CONFLICT (place_level, place, category) WHERE status = 'open' DO UPDATE SET"
        " reason = EXCLUDED.reason, requests = EXCLUDED.requests, dissatisfied = EXCLUDED.dissatisfied,"
        " tickets = EXCLUDED.tickets, first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at,"
        " dept_code = coalesce(EXCLUDED.dept_code, recurring_problems.dept_code),"
        " address = coalesce(EXCLUDED.address, recurring_problems.address),"
        " lat = coalesce(EXCLUDED.lat, recurring_problems.lat), lon = coalesce(EXCLUDED.lon, recurring_problems.lon)"
        " RETURNING id",
        *(
            values[k]
            for k in (
                "place_level",
                "place",
                "category",
                "district",
                "street",
                "reason",
                "requests",
                "dissatisfied",
                "tickets",
                "first_at",
                "last_at",
                "dept_code",
                "address",
                "lat",
                "lon",
            )
        ),
    )
    return int(value)


#: Recurring problems: oldest first.
PROBLEM_ORDER = Keyset(("id", "bigint"))


async def list_problems(conn: Conn, *, status: str | None, cursor: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM recurring_problems WHERE ($1::text IS NULL OR status = $1)"
        f" AND {PROBLEM_ORDER.where(3)} ORDER BY {PROBLEM_ORDER.order_by()} LIMIT $2",
        status,
        limit,
        *PROBLEM_ORDER.args(cursor),
    )


async def lock_problem(conn: Conn, problem_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM recurring_problems WHERE id = $1 FOR UPDATE", problem_id)


async def mark_converted(conn: Conn, problem_id: int, *, ticket_id: str, by: str) -> None:
    await conn.execute(
        "UPDATE recurring_problems SET status = 'converted', ticket_id = $2, converted_by = $3, converted_at = now()"
        " WHERE id = $1",
        problem_id,
        ticket_id,
        by,
    )
