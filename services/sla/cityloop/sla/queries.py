"""Every SQL statement of sla, in one place."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.paging import Keyset

# What the firing loop needs of a clock; nothing more is read per round.
_FIRING_COLUMNS = (
    "id, ticket_id, assignment_id, dept_code, category, kind, mode, command_unit, supervisors, desks,"
    " step, next_fire_at, warn_at, due_at, escalate_days, escalate_seconds, district, street"
)


@dataclass(frozen=True)
class NewClock:
    ticket_id: str
    assignment_id: str | None
    dept_code: str | None
    category: str | None
    urgency: str | None
    mode: str
    command_unit: str | None
    supervisors: list[str]
    kind: str
    opened_by: str | None
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    latest_due_at: datetime | None
    estimated: bool
    warn_ratio: float
    escalate_days: int | None
    escalate_seconds: float | None
    step: int
    next_fire_at: datetime
    #: 督办 desks over the owner, nearest first (contract Dispatched.desks)
    desks: list[str] = field(default_factory=list)
    #: where the ticket is (an emergency in force there escalates to its command unit)
    district: str | None = None
    street: str | None = None


_NEW_CLOCK_COLUMNS = (
    "ticket_id, assignment_id, dept_code, category, urgency, mode, command_unit, supervisors, kind, opened_by,"
    " started_at, warn_at, due_at, latest_due_at, estimated, warn_ratio, escalate_days, escalate_seconds,"
    " step, next_fire_at, desks, district, street"
)


def _clock_values(c: NewClock) -> tuple[object, ...]:
    return (
        c.ticket_id,
        c.assignment_id,
        c.dept_code,
        c.category,
        c.urgency,
        c.mode,
        c.command_unit,
        c.supervisors,
        c.kind,
        c.opened_by,
        c.started_at,
        c.warn_at,
        c.due_at,
        c.latest_due_at,
        c.estimated,
        c.warn_ratio,
        c.escalate_days,
        c.escalate_seconds,
        c.step,
        c.next_fire_at,
        c.desks,
        c.district,
        c.street,
    )


async def insert_clock(conn: Conn, clock: NewClock) -> int | None:
    """The new clock's id; None when the event that opens it was applied before."""
    value = await conn.fetchval(
        f"INSERT INTO clocks ({_NEW_CLOCK_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,"
        " $22, $23)"
        " ON CONFLICT (opened_by, kind) WHERE opened_by IS NOT NULL DO NOTHING RETURNING id",
        *_clock_values(clock),
    )
    return int(value) if value is not None else None


async def copy_clocks(conn: Conn, clocks: Sequence[NewClock]) -> None:
    """Bulk load (benchmarks, imports): COPY is the fastest way in."""
    await conn.copy_records_to_table(
        "clocks",
        records=[_clock_values(c) for c in clocks],
        columns=[c.strip() for c in _NEW_CLOCK_COLUMNS.split(",")],
    )


#: After a ``closed`` CTE of clocks: their pending extension requests can no longer be decided, withdrawn in
#: the same statement; the closed clocks are the result.
_WITHDRAWING = (
    ", withdrawn AS (UPDATE extensions SET status = 'withdrawn', decided_at = now(), decision_note = 'clock closed'"
    " WHERE clock_id IN (SELECT id FROM closed) AND status = 'pending')"
    " SELECT * FROM closed"
)


async def close_clocks(
    conn: Conn, ticket_id: str, kinds: Sequence[str], state: str, *, assignment_id: str | None = None
) -> list[asyncpg.Record]:
    """Close the ticket's open clocks of ``kinds`` (of one assignment, if given) as met or cancelled, and
    withdraw their pending extension requests."""
    return await conn.fetch(
        "WITH closed AS (UPDATE clocks SET state = $3, closed_at = now(), next_fire_at = NULL"
        " WHERE ticket_id = $1 AND kind = ANY($2::text[]) AND state = 'open'"
        " AND ($4::text IS NULL OR assignment_id IS NOT DISTINCT FROM $4)"
        " RETURNING id, kind, assignment_id, dept_code, category, due_at, closed_at)" + _WITHDRAWING,
        ticket_id,
        list(kinds),
        state,
        assignment_id,
    )


async def cancel_other_assignments(conn: Conn, ticket_id: str, keep_assignment: str | None) -> list[asyncpg.Record]:
    """A re-dispatch supersedes the previous owner's department clocks (their pending extension requests
    are withdrawn)."""
    return await conn.fetch(
        "WITH closed AS (UPDATE clocks SET state = 'cancelled', closed_at = now(), next_fire_at = NULL"
        " WHERE ticket_id = $1 AND state = 'open' AND kind IN ('accept', 'on_site', 'resolve', 'rehandle')"
        " AND assignment_id IS DISTINCT FROM $2"
        " RETURNING id, kind, assignment_id, dept_code, category, due_at, closed_at)" + _WITHDRAWING,
        ticket_id,
        keep_assignment,
    )


async def claim_due(conn: Conn, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Lock up to ``limit`` clocks whose next step is due; rows another replica holds are skipped, so
    replicas share the work and none fires a step twice. Call inside the transaction that advances them."""
    return await conn.fetch(
        f"SELECT {_FIRING_COLUMNS} FROM clocks WHERE next_fire_at <= $1"
        " ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        now,
        limit,
    )


@dataclass(frozen=True)
class Advance:
    clock_id: int
    fired_step: int
    fired_due_at: datetime
    next_step: int
    next_fire_at: datetime | None


async def advance_clocks(conn: Conn, advances: Sequence[Advance], now: datetime) -> None:
    """Record the steps just fired and each clock's next moment, in one statement."""
    await conn.execute(
        "UPDATE clocks c SET step = u.next_step, next_fire_at = u.next_fire_at,"
        " fired_step = u.fired_step, fired_due_at = u.fired_due_at, fired_at = clock_timestamp(),"
        " fire_count = c.fire_count + 1,"
        " warned_at = CASE WHEN u.fired_step = 0 THEN $6 ELSE c.warned_at END,"
        " breached_at = CASE WHEN u.fired_step = 1 THEN $6 ELSE c.breached_at END"
        " FROM unnest($1::bigint[], $2::smallint[], $3::timestamptz[], $4::smallint[], $5::timestamptz[])"
        "  AS u(id, fired_step, fired_due_at, next_step, next_fire_at)"
        " WHERE c.id = u.id",
        [a.clock_id for a in advances],
        [a.fired_step for a in advances],
        [a.fired_due_at for a in advances],
        [a.next_step for a in advances],
        [a.next_fire_at for a in advances],
        now,
    )


async def next_fire_moment(pool: PgPool) -> datetime | None:
    value = await pool.fetchval("SELECT min(next_fire_at) FROM clocks WHERE next_fire_at IS NOT NULL")
    return value if isinstance(value, datetime) else None


async def count_live(pool: PgPool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM clocks WHERE next_fire_at IS NOT NULL"))


async def clocks_of_ticket(conn: Conn, ticket_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM clocks WHERE ticket_id = $1 ORDER BY id", ticket_id)


async def find_open_clock(
    conn: Conn, ticket_id: str, kinds: Sequence[str], assignment_id: str | None
) -> asyncpg.Record | None:
    """The ticket's newest open clock of ``kinds`` (of that assignment, if given), locked."""
    return await conn.fetchrow(
        "SELECT * FROM clocks WHERE ticket_id = $1 AND kind = ANY($2::text[]) AND state = 'open'"
        " AND ($3::text IS NULL OR assignment_id IS NOT DISTINCT FROM $3)"
        " ORDER BY id DESC LIMIT 1 FOR UPDATE",
        ticket_id,
        list(kinds),
        assignment_id,
    )


async def lock_clock(conn: Conn, clock_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM clocks WHERE id = $1 FOR UPDATE", clock_id)


async def move_clock(
    conn: Conn, clock_id: int, *, due_at: datetime, warn_at: datetime | None, step: int, next_fire_at: datetime
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE clocks SET due_at = $2, warn_at = $3, step = $4, next_fire_at = $5, moves = moves + 1"
        " WHERE id = $1 RETURNING *",
        clock_id,
        due_at,
        warn_at,
        step,
        next_fire_at,
    )
    assert row is not None
    return row


async def insert_extension(
    conn: Conn,
    *,
    clock_id: int,
    ticket_id: str,
    assignment_id: str | None,
    dept_code: str | None,
    requested_deadline: datetime,
    requested_at: datetime,
    requested_by_event: str,
    note: str | None,
) -> int | None:
    value = await conn.fetchval(
        "INSERT INTO extensions (clock_id, ticket_id, assignment_id, dept_code, requested_deadline, requested_at,"
        " requested_by_event, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (requested_by_event) DO NOTHING RETURNING id",
        clock_id,
        ticket_id,
        assignment_id,
        dept_code,
        requested_deadline,
        requested_at,
        requested_by_event,
        note,
    )
    return int(value) if value is not None else None


async def lock_extension(conn: Conn, extension_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM extensions WHERE id = $1 FOR UPDATE", extension_id)


async def get_extension(conn: Conn, extension_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM extensions WHERE id = $1", extension_id)


async def decide_extension(
    conn: Conn,
    extension_id: int,
    *,
    status: str,
    by: str,
    role: str,
    note: str | None,
    granted: datetime | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE extensions SET status = $2, decided_by = $3, decided_role = $4, decided_at = now(),"
        " decision_note = $5, granted_deadline = $6 WHERE id = $1 RETURNING *",
        extension_id,
        status,
        by,
        role,
        note,
        granted,
    )
    assert row is not None
    return row


#: Extension requests, oldest first.
EXTENSION_ORDER = Keyset(("e.requested_at", "timestamptz"), ("e.id", "bigint"))


async def list_extensions(
    conn: Conn,
    *,
    status: str | None,
    ticket_id: str | None,
    visible_to_dept: str | None,
    limit: int,
    cursor: str | None,
) -> list[asyncpg.Record]:
    """Extension requests, oldest first, from ``cursor`` on. ``visible_to_dept`` keeps those the department
    asked for or supervises."""
    return await conn.fetch(
        "SELECT e.*, c.kind, c.due_at, c.supervisors FROM extensions e JOIN clocks c ON c.id = e.clock_id"
        " WHERE ($1::text IS NULL OR e.status = $1) AND ($2::text IS NULL OR e.ticket_id = $2)"
        " AND ($3::text IS NULL OR e.dept_code = $3 OR $3 = ANY(c.supervisors))"
        f" AND {EXTENSION_ORDER.where(5)} ORDER BY {EXTENSION_ORDER.order_by()} LIMIT $4",
        status,
        ticket_id,
        visible_to_dept,
        limit,
        *EXTENSION_ORDER.args(cursor),
    )


async def recompute_for_mode(
    conn: Conn,
    *,
    ticket_ids: Sequence[str],
    mode: str,
    command_unit: str | None,
    started_at: datetime,
    kinds: Sequence[str],
    due_ats: Sequence[datetime],
    warn_ats: Sequence[datetime | None],
    escalate_days: int | None,
    escalate_seconds: float | None,
) -> list[asyncpg.Record]:
    """One statement for a mode switch: every open clock of ``ticket_ids`` restarts at ``started_at`` with
    its kind's new deadline (the same for all, since they share the start) and a fresh ladder."""
    return await conn.fetch(
        "UPDATE clocks c SET mode = $2, command_unit = $3, started_at = $4, due_at = n.due_at, warn_at = n.warn_at,"
        " latest_due_at = NULL, escalate_days = $8, escalate_seconds = $9, moves = c.moves + 1,"
        " step = CASE WHEN n.warn_at IS NOT NULL AND n.warn_at < n.due_at THEN 0 ELSE 1 END,"
        " next_fire_at = CASE WHEN n.warn_at IS NOT NULL AND n.warn_at < n.due_at THEN n.warn_at ELSE n.due_at END"
        " FROM unnest($5::text[], $6::timestamptz[], $7::timestamptz[]) AS n(kind, due_at, warn_at)"
        " WHERE c.ticket_id = ANY($1::text[]) AND c.state = 'open' AND c.kind = n.kind"
        " RETURNING c.id, c.ticket_id, c.assignment_id, c.dept_code, c.kind, c.due_at",
        list(ticket_ids),
        mode,
        command_unit,
        started_at,
        list(kinds),
        list(due_ats),
        list(warn_ats),
        escalate_days,
        escalate_seconds,
    )


async def count_live_by_dept(pool: PgPool) -> list[tuple[str | None, int]]:
    """Live clocks per department code (the live-timers gauge; metrics.count_live_timers)."""
    rows = await pool.fetch(
        "SELECT dept_code, count(*) AS n FROM clocks WHERE next_fire_at IS NOT NULL GROUP BY dept_code"
    )
    return [(r["dept_code"], int(r["n"])) for r in rows]
