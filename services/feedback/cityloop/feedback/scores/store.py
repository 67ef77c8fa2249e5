"""Every SQL statement of scoring: the facts, the day counters, and the reads behind the API."""

from dataclasses import dataclass
from datetime import date

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.feedback.scores.rules import COUNTERS, Counts, Level


@dataclass(frozen=True)
class Dims:
    """Where a fact counts: its department and the ticket's street and district."""

    dept_code: str | None
    street: str | None
    district: str | None


# --- tickets and departments ------------------------------------------------------------------------


async def upsert_ticket(
    conn: Conn,
    ticket_id: str,
    *,
    district: str | None,
    street: str | None,
    grid: str | None,
    category: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO score_tickets (ticket_id, district, street, grid, category) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (ticket_id) DO UPDATE SET district = coalesce(EXCLUDED.district, score_tickets.district),"
        " street = coalesce(EXCLUDED.street, score_tickets.street), grid = coalesce(EXCLUDED.grid, score_tickets.grid),"
        " category = coalesce(EXCLUDED.category, score_tickets.category)",
        ticket_id,
        district,
        street,
        grid,
        category,
    )


async def set_ticket_mode(conn: Conn, ticket_id: str, mode: str) -> None:
    await conn.execute(
        "INSERT INTO score_tickets (ticket_id, mode) VALUES ($1, $2)"
        " ON CONFLICT (ticket_id) DO UPDATE SET mode = EXCLUDED.mode",
        ticket_id,
        mode,
    )


async def set_ticket_excluded(conn: Conn, ticket_id: str, reason: str | None) -> None:
    await conn.execute(
        "INSERT INTO score_tickets (ticket_id, excluded) VALUES ($1, $2)"
        " ON CONFLICT (ticket_id) DO UPDATE SET excluded = EXCLUDED.excluded",
        ticket_id,
        reason,
    )


async def get_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM score_tickets WHERE ticket_id = $1", ticket_id)


async def upsert_department(conn: Conn, dept_code: str, district: str | None, street: str | None) -> None:
    await conn.execute(
        "INSERT INTO score_departments (dept_code, district, street) VALUES ($1, $2, $3)"
        " ON CONFLICT (dept_code) DO UPDATE SET district = EXCLUDED.district, street = EXCLUDED.street",
        dept_code,
        district,
        street,
    )


async def get_department(conn: Conn, dept_code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM score_departments WHERE dept_code = $1", dept_code)


# --- facts ------------------------------------------------------------------------------------------


async def insert_task(
    conn: Conn,
    *,
    assignment_id: str,
    ticket_id: str,
    dims: Dims,
    mode: str,
    day: date,
    accept_due_at: object,
    state: str,
) -> bool:
    value = await conn.fetchval(
        "INSERT INTO score_tasks (assignment_id, ticket_id, dept_code, street, district, mode, day, accept_due_at,"
        " state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (assignment_id) DO NOTHING RETURNING 1",
        assignment_id,
        ticket_id,
        dims.dept_code,
        dims.street,
        dims.district,
        mode,
        day,
        accept_due_at,
        state,
    )
    return value is not None


async def lock_task(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM score_tasks WHERE assignment_id = $1 FOR UPDATE", assignment_id)


async def tasks_of_ticket(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM score_tasks WHERE ticket_id = $1 ORDER BY assignment_id FOR UPDATE", ticket_id
    )


async def set_task_state(conn: Conn, assignment_id: str, state: str) -> None:
    await conn.execute("UPDATE score_tasks SET state = $2 WHERE assignment_id = $1", assignment_id, state)


async def insert_callback(
    conn: Conn,
    *,
    callback_id: str,
    ticket_id: str,
    dims: Dims,
    mode: str,
    day: date,
    solved: bool | None,
    satisfaction: str | None,
    excluded: str | None,
) -> bool:
    value = await conn.fetchval(
        "INSERT INTO score_callbacks (callback_id, ticket_id, dept_code, street, district, mode, day, solved,"
        " satisfaction, excluded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (callback_id) DO NOTHING RETURNING 1",
        callback_id,
        ticket_id,
        dims.dept_code,
        dims.street,
        dims.district,
        mode,
        day,
        solved,
        satisfaction,
        excluded,
    )
    return value is not None


async def callbacks_of_ticket(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM score_callbacks WHERE ticket_id = $1 ORDER BY callback_id FOR UPDATE", ticket_id
    )


async def set_callback_excluded(conn: Conn, callback_id: str, excluded: str | None) -> None:
    await conn.execute("UPDATE score_callbacks SET excluded = $2 WHERE callback_id = $1", callback_id, excluded)


# --- day counters -----------------------------------------------------------------------------------

_SET = ", ".join(f"{c} = score_days.{c} + EXCLUDED.{c}" for c in COUNTERS)
_ADD = (
    f"INSERT INTO score_days (level, mode, day, key, {', '.join(COUNTERS)})"
    f" SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[],"
    f" {', '.join(f'${i}::int[]' for i in range(5, 5 + len(COUNTERS)))})"
    f" ON CONFLICT (level, mode, day, key) DO UPDATE SET {_SET}"
)


async def add_counts(conn: Conn, rows: list[tuple[Level, str, date, str, Counts]]) -> None:
    """Add each difference to its counter row. Rows are written in one fixed order (the primary key's),
    so two transactions touching the same rows (the city's row is touched by every fact) queue on
    them instead of deadlocking."""
    rows = sorted((r for r in rows if not r[4].is_zero()), key=lambda r: (r[0].value, r[1], r[2], r[3]))
    if not rows:
        return
    columns: list[list[object]] = [[r[0].value for r in rows], [r[1] for r in rows], [r[2] for r in rows]]
    columns.append([r[3] for r in rows])
    for index in range(len(COUNTERS)):
        columns.append([r[4].as_tuple()[index] for r in rows])
    await conn.execute(_ADD, *columns)


_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in COUNTERS)


async def sum_days(conn: Conn, level: Level, mode: str, first: date, last: date) -> list[tuple[str, Counts]]:
    """Every item of ``level`` with its counters summed over [first, last]: at most 31 rows per item."""
    rows = await conn.fetch(
        f"SELECT key, {_SUMS} FROM score_days WHERE level = $1 AND mode = $2 AND day BETWEEN $3 AND $4"
        " GROUP BY key ORDER BY key",
        level.value,
        mode,
        first,
        last,
    )
    return [(r["key"], Counts(*(int(r[c]) for c in COUNTERS))) for r in rows]


# --- drill-down -------------------------------------------------------------------------------------

_COLUMN = {Level.DEPARTMENT: "dept_code", Level.STREET: "street", Level.DISTRICT: "district"}


def _where(level: Level) -> str:
    """Facts of one item (or of the whole city) for one mode and a range of days: $1 key, $2 mode, $3-$4."""
    column = _COLUMN.get(level)
    match = f"{column} = $1" if column else "$1::text IS NOT NULL"
    return f"{match} AND mode = $2 AND day BETWEEN $3 AND $4"


async def counted_tasks(
    conn: Conn, level: Level, key: str, *, mode: str, first: date, last: date, after: str, limit: int
) -> list[asyncpg.Record]:
    """Tasks in the 响应率 denominator (decided: on time or late), by assignment id."""
    return await conn.fetch(
        "SELECT assignment_id AS ref, ticket_id, dept_code, day, state FROM score_tasks"
        f" WHERE {_where(level)} AND state IN ('on_time', 'late') AND assignment_id > $5"
        " ORDER BY assignment_id LIMIT $6",
        key,
        mode,
        first,
        last,
        after,
        limit,
    )


async def counted_callbacks(
    conn: Conn, level: Level, key: str, *, mode: str, first: date, last: date, after: str, limit: int
) -> list[asyncpg.Record]:
    """Callbacks in the 解决率 and 满意率 denominators (completed, not excluded), by callback id."""
    return await conn.fetch(
        "SELECT callback_id AS ref, ticket_id, dept_code, day, solved, satisfaction FROM score_callbacks"
        f" WHERE {_where(level)} AND excluded IS NULL AND callback_id > $5 ORDER BY callback_id LIMIT $6",
        key,
        mode,
        first,
        last,
        after,
        limit,
    )
