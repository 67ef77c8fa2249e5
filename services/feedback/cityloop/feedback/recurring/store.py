"""Every SQL statement of the recurring-problem detector."""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Placed:
    """Where router placed a ticket (its dispatch)."""

    ticket_id: str
    district: str | None
    street: str | None
    grid: str | None
    category: str | None
    dept_code: str | None

    def args(self) -> tuple[object, ...]:
        return (self.ticket_id, self.district, self.street, self.grid, self.category, self.dept_code)


def _place_sql(first: int) -> str:
    """Keep where the ticket was placed (its six values from parameter ``first`` on)."""
    p = [f"${first + i}" for i in range(6)]
    return (
        "INSERT INTO recurring_tickets (ticket_id, district, street, grid, category, dept_code)"
        f" VALUES ({', '.join(p)}) ON CONFLICT (ticket_id) DO UPDATE SET district = EXCLUDED.district,"
        " street = EXCLUDED.street, grid = EXCLUDED.grid, category = EXCLUDED.category,"
        " dept_code = EXCLUDED.dept_code"
    )


async def remember_place(conn: Conn, placed: Placed) -> None:
    await conn.execute(_place_sql(1), *placed.args())


async def get_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM recurring_tickets WHERE ticket_id = $1", ticket_id)


async def add_signal(
    conn: Conn,
    key: str,
    *,
    kind: str,
    ticket_id: str,
    place: Place,
    category: str,
    at: datetime,
    since: datetime,
    placed: Placed | None = None,
) -> list[asyncpg.Record]:
    """Record the signal ``key`` once, and in the same round trip read the place's signals (kind, ticket_id,
    at; oldest first) after ``since`` or after the last proactive ticket there, whichever is later: the new
    one included. Empty when ``key`` was recorded already (or nothing counts): nothing new to judge.
    With ``placed``, the same statement first keeps where that ticket was placed (``remember_place``)."""
    keep = f"placed AS ({_place_sql(9)})," if placed is not None else ""
    return await conn.fetch(
        f"WITH {keep} added AS (INSERT INTO recurring_signals (signal_key, kind, ticket_id, place_level, place,"
        " category, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (signal_key) DO NOTHING"
        " RETURNING kind, ticket_id, at),"
        # greatest() passes over a NULL: a place never converted counts from ``since``.
        " since AS (SELECT greatest($8::timestamptz, (SELECT max(converted_at) FROM recurring_problems"
        " WHERE place_level = $4 AND place = $5 AND category = $6)) AS t)"
        # The statement does not see its own insert: the new signal comes from ``added``, the rest from the table.
        " SELECT a.kind, a.ticket_id, a.at FROM added a, since WHERE a.at > since.t"
        " UNION ALL SELECT s.kind, s.ticket_id, s.at FROM recurring_signals s, since"
        " WHERE EXISTS (SELECT FROM added) AND s.place_level = $4 AND s.place = $5 AND s.category = $6"
        " AND s.at > since.t ORDER BY at",
        key,
        kind,
        ticket_id,
        place.level,
        place.code,
        category,
        at,
        since,
        *(placed.args() if placed is not None else ()),
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
