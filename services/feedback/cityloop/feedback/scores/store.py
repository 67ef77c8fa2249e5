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


async def record_dispatch(
    conn: Conn,
    ticket_id: str,
    *,
    district: str | None,
    street: str | None,
    grid: str | None,
    category: str | None,
    mode: str,
    department: tuple[str, str | None, str | None] | None,
) -> None:
    """What a dispatch tells scoring, in one round trip: the ticket's place (a field left out keeps its
    value), its mode, and the lead department's own area (``department``: code, district, street) if sent."""
    code, dept_district, dept_street = department if department is not None else (None, None, None)
    await conn.execute(
        "WITH dept AS (INSERT INTO score_departments (dept_code, district, street) SELECT $7, $8, $9"
        " WHERE $7::text IS NOT NULL"
        " ON CONFLICT (dept_code) DO UPDATE SET district = EXCLUDED.district, street = EXCLUDED.street)"
        " INSERT INTO score_tickets (ticket_id, district, street, grid, category, mode) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (ticket_id) DO UPDATE SET district = coalesce(EXCLUDED.district, score_tickets.district),"
        " street = coalesce(EXCLUDED.street, score_tickets.street), grid = coalesce(EXCLUDED.grid, score_tickets.grid),"
        " category = coalesce(EXCLUDED.category, score_tickets.category), mode = EXCLUDED.mode",
        ticket_id,
        district,
        street,
        grid,
        category,
        mode,
        code,
        dept_district,
        dept_street,
    )


async def set_ticket_mode(conn: Conn, ticket_id: str, mode: str) -> asyncpg.Record:
    """Set the ticket's mode; returns its row as it is now (one round trip for the write and the read)."""
    row = await conn.fetchrow(
        "INSERT INTO score_tickets (ticket_id, mode) VALUES ($1, $2)"
        " ON CONFLICT (ticket_id) DO UPDATE SET mode = EXCLUDED.mode RETURNING *",
        ticket_id,
        mode,
    )
    assert row is not None  # an upsert always returns its row
    return row


async def set_ticket_excluded(conn: Conn, ticket_id: str, reason: str | None) -> None:
    await conn.execute(
        "INSERT INTO score_tickets (ticket_id, excluded) VALUES ($1, $2)"
        " ON CONFLICT (ticket_id) DO UPDATE SET excluded = EXCLUDED.excluded",
        ticket_id,
        reason,
    )


async def get_ticket(conn: Conn, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM score_tickets WHERE ticket_id = $1", ticket_id)


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
    counts: "list[CountRow]",
) -> bool:
    """Insert the task fact and, if it is new, add ``counts`` to the day counters: one round trip."""
    insert = (
        "INSERT INTO score_tasks (assignment_id, ticket_id, dept_code, street, district, mode, day, accept_due_at,"
        " state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (assignment_id) DO NOTHING RETURNING 1"
    )
    value = await conn.fetchval(
        *_with_counts(insert, 9, counts),
        assignment_id,
        ticket_id,
        dims.dept_code,
        dims.street,
        dims.district,
        mode,
        day,
        accept_due_at,
        state,
        *_count_args(counts),
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
    counts: "list[CountRow]",
) -> bool:
    """Insert the callback fact and, if it is new, add ``counts`` to the day counters: one round trip."""
    insert = (
        "INSERT INTO score_callbacks (callback_id, ticket_id, dept_code, street, district, mode, day, solved,"
        " satisfaction, excluded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (callback_id) DO NOTHING RETURNING 1"
    )
    value = await conn.fetchval(
        *_with_counts(insert, 10, counts),
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
        *_count_args(counts),
    )
    return value is not None


async def callbacks_of_ticket(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM score_callbacks WHERE ticket_id = $1 ORDER BY callback_id FOR UPDATE", ticket_id
    )


async def set_callback_excluded(conn: Conn, callback_id: str, excluded: str | None) -> None:
    await conn.execute("UPDATE score_callbacks SET excluded = $2 WHERE callback_id = $1", callback_id, excluded)


# --- day counters -----------------------------------------------------------------------------------

#: One difference for one counter row: (level, mode, day, key, the difference).
CountRow = tuple[Level, str, date, str, Counts]

_SET = ", ".join(f"{c} = score_days.{c} + EXCLUDED.{c}" for c in COUNTERS)


def _add_sql(first: int, *, when: str = "") -> str:
    """The counter upsert over unnest'ed columns, its parameters numbered from ``first``."""
    params = [f"${first}::text[]", f"${first + 1}::text[]", f"${first + 2}::date[]", f"${first + 3}::text[]"]
    params += [f"${first + 4 + i}::int[]" for i in range(len(COUNTERS))]
    return (
        f"INSERT INTO score_days (level, mode, day, key, {', '.join(COUNTERS)})"
        f" SELECT * FROM unnest({', '.join(params)}){when}"
        f" ON CONFLICT (level, mode, day, key) DO UPDATE SET {_SET}"
    )


_ADD = _add_sql(1)


def _ordered(rows: list[CountRow]) -> list[CountRow]:
    """Rows are written in one fixed order (the primary key's), so two transactions touching the same rows
    (the city's row is touched by every fact) queue on them instead of deadlocking."""
    return sorted((r for r in rows if not r[4].is_zero()), key=lambda r: (r[0].value, r[1], r[2], r[3]))


def _count_args(rows: list[CountRow]) -> list[list[object]]:
    rows = _ordered(rows)
    if not rows:
        return []
    columns: list[list[object]] = [[r[0].value for r in rows], [r[1] for r in rows], [r[2] for r in rows]]
    columns.append([r[3] for r in rows])
    for index in range(len(COUNTERS)):
        columns.append([r[4].as_tuple()[index] for r in rows])
    return columns


def _with_counts(insert: str, params: int, rows: list[CountRow]) -> tuple[str]:
    """``insert`` (a fact's INSERT ... RETURNING 1) followed, in the same statement, by adding ``rows`` to
    the counters only if the fact was new; the counter parameters follow the insert's ``params``."""
    if not _ordered(rows):
        return (insert,)
    first = params + 1
    return (
        f"WITH fact AS ({insert}), counted AS ({_add_sql(first, when=' WHERE EXISTS (SELECT FROM fact)')})"
        " SELECT 1 FROM fact",
    )


async def add_counts(conn: Conn, rows: list[CountRow]) -> None:
    """Add each difference to its counter row (in the primary key's order, see ``_ordered``)."""
    columns = _count_args(rows)
    if columns:
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
