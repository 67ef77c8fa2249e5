"""Every SQL statement of emergency mode: emergencies, their log, proposals, and the bulk re-homing."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg

from cityloop.common.contract.emergencies import Emergency
from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset

OPEN_STATUSES = ["dispatched", "accepted"]
#: Mirrored by the CHECK constraints of migrations/0007_emergencies.sql (tests/integration/test_status_checks.py).
EmergencyStatus = Literal["active", "stood_down"]
ProposalStatus = Literal["pending", "confirmed", "dismissed"]
LogAction = Literal[
    "declared",
    "updated",
    "stood_down",
    "rehomed",
    "proposal_received",
    "proposal_confirmed",
    "proposal_dismissed",
    "read",
]
#: only one emergency call changes the set at a time; ticket routing holds it shared (see flows.py)
MODE_LOCK = 0x0E3E_26E5


async def routing_revisions(conn: Conn) -> tuple[int, int]:
    """The modes lock held shared for the transaction (``lock_modes`` takes it exclusive), plus the master
    data's revision and the newest classifier model's id, which routing a ticket reads next (context.py):
    one round trip instead of three."""
    row = await conn.fetchrow(
        "SELECT pg_advisory_xact_lock_shared($1), (SELECT revision FROM master_meta) AS revision,"
        " (SELECT COALESCE(max(id), 0) FROM classifier_models) AS model_id",
        MODE_LOCK,
    )
    assert row is not None
    return int(row["revision"]), int(row["model_id"])


async def lock_modes(conn: Conn) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MODE_LOCK)


# ------------------------------------------------------------------------------------------ emergencies


def _row(e: Emergency) -> tuple[Any, ...]:
    return (
        e.id,
        e.name,
        e.level,
        e.scope.model_dump(mode="json"),
        list(e.categories),
        e.command_unit,
        {k: list(v) for k, v in e.participants.items()},
        e.deadlines.model_dump(mode="json"),
        e.declared_by,
        e.declared_at,
        e.proposal_id,
        "active" if e.active else "stood_down",
        e.stood_down_at,
        e.stood_down_by,
        e.version,
    )


async def save(conn: Conn, e: Emergency) -> None:
    await conn.execute(
        "INSERT INTO emergencies (id, name, level, scope, categories, command_unit, participants, deadlines,"
        " declared_by, declared_at, proposal_id, status, stood_down_at, stood_down_by, version)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, scope = EXCLUDED.scope,"
        " categories = EXCLUDED.categories, command_unit = EXCLUDED.command_unit,"
        " participants = EXCLUDED.participants, deadlines = EXCLUDED.deadlines, status = EXCLUDED.status,"
        " stood_down_at = EXCLUDED.stood_down_at, stood_down_by = EXCLUDED.stood_down_by, version = EXCLUDED.version",
        *_row(e),
    )


def emergency_of(row: asyncpg.Record) -> Emergency:
    fields = dict(row.items())
    del fields["status"]  # derived: stood_down_at says it
    return Emergency.model_validate(fields)


async def get(conn: Conn, emergency_id: str, *, lock: bool = False) -> Emergency | None:
    row = await conn.fetchrow("SELECT * FROM emergencies WHERE id = $1" + (" FOR UPDATE" if lock else ""), emergency_id)
    return emergency_of(row) if row else None


EMERGENCY_ORDER = Keyset(("declared_at", "timestamptz"), ("id", "text"), descending=True)
PROPOSAL_ORDER = Keyset(("proposed_at", "timestamptz"), ("id", "text"), descending=True)


async def listing(conn: Conn, *, active: bool | None, limit: int, cursor: str | None) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM emergencies WHERE ($1::boolean IS NULL OR (status = 'active') = $1)"
            f" AND {EMERGENCY_ORDER.where(3)} ORDER BY {EMERGENCY_ORDER.order_by()} LIMIT $2",
            active,
            limit,
            *EMERGENCY_ORDER.args(cursor),
        )
    )


async def active(conn: Conn) -> list[Emergency]:
    return [emergency_of(r) for r in await conn.fetch("SELECT * FROM emergencies WHERE status = 'active'")]


async def log(
    conn: Conn,
    *,
    action: LogAction,
    actor: str,
    emergency_id: str | None = None,
    proposal_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO emergency_log (emergency_id, proposal_id, action, actor, detail) VALUES ($1, $2, $3, $4, $5)",
        emergency_id,
        proposal_id,
        action,
        actor,
        detail or {},
    )


async def trail(conn: Conn, emergency_id: str, *, reads: bool = False) -> list[asyncpg.Record]:
    """The emergency's changes and re-homing runs, oldest first; with ``reads`` also who read it."""
    return list(
        await conn.fetch(
            "SELECT action, actor, at, detail FROM emergency_log WHERE emergency_id = $1"
            " AND ($2 OR action <> 'read') ORDER BY id",
            emergency_id,
            reads,
        )
    )


async def counts(conn: Conn, emergency_id: str) -> dict[str, Any]:
    """Live figures of one emergency: open tickets, tasks by department, unaccepted, overdue, incidents."""
    open_tickets = await conn.fetchval(
        "SELECT count(*) FROM tickets WHERE emergency_id = $1 AND status = ANY($2::text[])", emergency_id, OPEN_STATUSES
    )
    by_dept = await conn.fetch(
        "SELECT dept_code, role, count(*) AS tasks, count(*) FILTER (WHERE status = 'assigned') AS unaccepted"
        " FROM assignments WHERE emergency_id = $1 AND status IN ('assigned', 'accepted')"
        " GROUP BY dept_code, role ORDER BY dept_code, role",
        emergency_id,
    )
    # sla owns deadlines; router keeps which of a live task's clocks sla reported breached (overdue_kinds).
    overdue = await conn.fetchval(
        "SELECT count(*) FROM assignments WHERE emergency_id = $1 AND status IN ('assigned', 'accepted')"
        " AND cardinality(overdue_kinds) > 0",
        emergency_id,
    )
    incidents = await conn.fetchval(
        "SELECT count(*) FROM cases c WHERE c.emergency_id = $1"
        " AND (SELECT count(*) FROM tickets t WHERE t.case_id = c.id) > 1",
        emergency_id,
    )
    return {
        "open_tickets": int(open_tickets),
        "tasks_by_department": [dict(r) for r in by_dept],
        "unaccepted": sum(int(r["unaccepted"]) for r in by_dept),
        "overdue": int(overdue),
        "incidents": int(incidents),
    }


async def clock_breached(conn: Conn, assignment_id: str, kind: str) -> None:
    await conn.execute(
        "UPDATE assignments SET overdue_kinds = array_append(array_remove(overdue_kinds, $2), $2) WHERE id = $1",
        assignment_id,
        kind,
    )


async def clock_closed(conn: Conn, assignment_id: str, kind: str) -> None:
    await conn.execute(
        "UPDATE assignments SET overdue_kinds = array_remove(overdue_kinds, $2)"
        " WHERE id = $1 AND $2 = ANY(overdue_kinds)",
        assignment_id,
        kind,
    )


async def tickets_in_emergency(conn: Conn) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE emergency_id IS NOT NULL AND status = ANY($1::text[])", OPEN_STATUSES
        )
    )


# ------------------------------------------------------------------------------------------ re-homing


#: What re-homing reads of a ticket (rehoming.py, tickets/records.py stored_location/stored_classification):
#: not its routing decision nor the rest, JSON that would be sent and decoded for every ticket of a switch.
REHOME_COLUMNS = (
    "ticket_id, category, description, location, urgency, citizen, classification, resolved, district, street,"
    " emergency_id, case_id"
)


#: Open tickets of categories $2 in the area ($3: the whole city, or districts $4 or streets $5), not yet under
#: emergency $6; and open tickets under emergency $1. Shared by the run's id list and its last pass.
_IN_SCOPE = (
    "status = ANY($1::text[]) AND category = ANY($2::text[])"
    " AND ($3 OR district = ANY($4::text[]) OR street = ANY($5::text[])) AND emergency_id IS DISTINCT FROM $6"
)
_UNDER = "emergency_id = $1 AND status = ANY($2::text[])"


async def claim_in_scope(
    conn: Conn,
    *,
    categories: Sequence[str],
    city: bool,
    districts: Sequence[str],
    streets: Sequence[str],
    not_under: str,
    after: str,
    limit: int,
) -> list[asyncpg.Record]:
    """Open tickets of ``categories`` in the area, not yet under ``not_under``, locked (waiting for those
    another transaction holds), in ticket-id order from ``after``: a run's last pass, after its batches."""
    return list(
        await conn.fetch(
            f"SELECT {REHOME_COLUMNS} FROM tickets WHERE {_IN_SCOPE} AND ticket_id > $7"
            " ORDER BY ticket_id LIMIT $8 FOR UPDATE",
            OPEN_STATUSES,
            list(categories),
            city,
            list(districts),
            list(streets),
            not_under,
            after,
            limit,
        )
    )


async def claim_under(conn: Conn, *, emergency_id: str, after: str, limit: int) -> list[asyncpg.Record]:
    """Open tickets handled under ``emergency_id``, locked, in ticket-id order from ``after`` (the last pass)."""
    return list(
        await conn.fetch(
            f"SELECT {REHOME_COLUMNS} FROM tickets WHERE {_UNDER} AND ticket_id > $3 ORDER BY ticket_id LIMIT $4"
            " FOR UPDATE",
            emergency_id,
            OPEN_STATUSES,
            after,
            limit,
        )
    )


async def candidates_in_scope(
    conn: Conn,
    *,
    categories: Sequence[str],
    city: bool,
    districts: Sequence[str],
    streets: Sequence[str],
    not_under: str,
) -> list[str]:
    """The ids, in order, of the open tickets ``claim_in_scope`` would find, read once at the start of a run
    (the batches then claim them by id: ``claim_ids``). Keyset batches over the whole filter made each
    batch's plan read every open ticket of the category and sort them (the planner took the category index,
    as a just-seeded table's statistics say the category is rare): O(N) per batch, O(N^2) per switch."""
    rows = await conn.fetch(
        f"SELECT ticket_id FROM tickets WHERE {_IN_SCOPE} ORDER BY ticket_id",
        OPEN_STATUSES,
        list(categories),
        city,
        list(districts),
        list(streets),
        not_under,
    )
    return [r["ticket_id"] for r in rows]


async def candidates_under(conn: Conn, *, emergency_id: str) -> list[str]:
    """The ids, in order, of the open tickets ``claim_under`` would find (see ``candidates_in_scope``)."""
    rows = await conn.fetch(
        f"SELECT ticket_id FROM tickets WHERE {_UNDER} ORDER BY ticket_id",
        emergency_id,
        OPEN_STATUSES,
    )
    return [r["ticket_id"] for r in rows]


async def claim_ids(conn: Conn, ticket_ids: Sequence[str], *, emergency_id: str, into: bool) -> list[asyncpg.Record]:
    """Those of ``ticket_ids`` still open and not yet under ``emergency_id`` (``into``: it is being declared)
    or still under it (it stands down), locked, in order; skipping any another transaction holds (the run's
    last pass waits for those)."""
    condition = "emergency_id IS DISTINCT FROM $3" if into else "emergency_id = $3"
    return list(
        await conn.fetch(
            f"SELECT {REHOME_COLUMNS} FROM tickets WHERE ticket_id = ANY($1::text[]) AND status = ANY($2::text[])"
            f" AND {condition} ORDER BY ticket_id FOR UPDATE SKIP LOCKED",
            list(ticket_ids),
            OPEN_STATUSES,
            emergency_id,
        )
    )


async def live_of(conn: Conn, ticket_ids: Sequence[str]) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            # not reason: after a declaration each holds the emergency's whole why, decoded here for nothing
            "SELECT ticket_id, id, dept_code, role FROM assignments"
            " WHERE ticket_id = ANY($1::text[]) AND status IN ('assigned', 'accepted')"
            " ORDER BY ticket_id, created_at, id FOR UPDATE",
            list(ticket_ids),
        )
    )


async def withdraw_many(conn: Conn, assignment_ids: Sequence[str], reasons: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE assignments a SET status = 'withdrawn', withdrawn_reason = w.reason, updated_at = now()"
        " FROM unnest($1::text[], $2::text[]) AS w(id, reason) WHERE a.id = w.id",
        list(assignment_ids),
        list(reasons),
    )


async def convert_many(
    conn: Conn, *, assignment_ids: Sequence[str], roles: Sequence[str], mode: str, emergency_id: str | None
) -> None:
    """Kept tasks: new role and mode. An accepted task stays accepted."""
    await conn.execute(
        "UPDATE assignments a SET role = k.role, mode = $3, emergency_id = $4, updated_at = now()"
        " FROM unnest($1::text[], $2::text[]) AS k(id, role) WHERE a.id = k.id",
        list(assignment_ids),
        list(roles),
        mode,
        emergency_id,
    )


async def insert_many(conn: Conn, rows: Sequence[tuple[Any, ...]]) -> None:
    """New tasks, in one statement: (id, ticket_id, dept_code, role, reason as JSON text, mode, emergency_id)."""
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        "INSERT INTO assignments (id, ticket_id, dept_code, role, status, reason, mode, emergency_id)"
        " SELECT id, ticket_id, dept_code, role, 'assigned', reason::jsonb, mode, emergency_id"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])"
        " AS n(id, ticket_id, dept_code, role, reason, mode, emergency_id)",
        *[list(c) for c in columns],
    )


async def set_tickets_mode(conn: Conn, ticket_ids: Sequence[str], emergency_id: str | None) -> None:
    await conn.execute(
        "UPDATE tickets SET emergency_id = $2, status = 'dispatched', updated_at = now()"
        " WHERE ticket_id = ANY($1::text[])",
        list(ticket_ids),
        emergency_id,
    )


async def clear_mode(conn: Conn, ticket_ids: Sequence[str]) -> None:
    if ticket_ids:
        await conn.execute("UPDATE tickets SET emergency_id = NULL WHERE ticket_id = ANY($1::text[])", list(ticket_ids))


async def case_ids(conn: Conn, ticket_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT ticket_id, case_id FROM tickets WHERE ticket_id = ANY($1::text[]) AND case_id IS NOT NULL",
        list(ticket_ids),
    )
    return {r["ticket_id"]: r["case_id"] for r in rows}


# ------------------------------------------------------------------------------------------ proposals


async def insert_proposal(conn: Conn, proposal_id: str, proposed: dict[str, Any], proposed_at: datetime) -> bool:
    added = await conn.fetchval(
        "INSERT INTO proposals (id, proposed, proposed_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING 1",
        proposal_id,
        proposed,
        proposed_at,
    )
    return added is not None


async def get_proposal(conn: Conn, proposal_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM proposals WHERE id = $1" + (" FOR UPDATE" if lock else ""), proposal_id)


async def list_proposals(conn: Conn, *, status: str | None, limit: int, cursor: str | None) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM proposals WHERE ($1::text IS NULL OR status = $1)"
            f" AND {PROPOSAL_ORDER.where(3)} ORDER BY {PROPOSAL_ORDER.order_by()} LIMIT $2",
            status,
            limit,
            *PROPOSAL_ORDER.args(cursor),
        )
    )


async def decide_proposal(
    conn: Conn, proposal_id: str, *, status: str, by: str, note: str | None, emergency_id: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "UPDATE proposals SET status = $2, decided_by = $3, decided_at = now(), note = $4, emergency_id = $5"
        " WHERE id = $1 RETURNING *",
        proposal_id,
        status,
        by,
        note,
        emergency_id,
    )
    assert row is not None
    return row
