"""A ticket as intake stores it: its row, its citizen (apart), its idempotency key, and reading it back."""

from typing import Any

import asyncpg

from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn

Record = asyncpg.Record

#: tickets' columns written at creation, with their SQL types (Composed.arg casts).
_CREATED_COLUMNS = (
    ("id", "text"),
    ("channel", "text"),
    ("category", "text"),
    ("description", "text"),
    ("location", "jsonb"),
    ("urgency", "text"),
    ("status", "text"),
    ("operator", "text"),
    ("attachments", "jsonb"),
    ("attributes", "jsonb"),
    ("created_by", "text"),
    ("direct_answer", "text"),
    ("created_at", "timestamptz"),
    ("closed_at", "timestamptz"),
    ("status_notes", "text"),
)


def ticket_number(number: int, at_shanghai_date: str) -> str:
    """Human-readable: the hotline reads it out to the citizen (e.g. T20261122-0000123)."""
    return f"T{at_shanghai_date}-{number:07d}"


async def reserve_ticket_numbers(conn: Conn, how_many: int) -> list[int]:
    """The next ``how_many`` numbers of the ticket sequence, in one round trip (tickets/numbers.py)."""
    rows = await conn.fetch("SELECT nextval('ticket_number') AS n FROM generate_series(1, $1)", how_many)
    return [int(r["n"]) for r in rows]


def insert_ticket_into(q: Composed, name: str, ticket: dict[str, Any], *, gate: str) -> None:
    """A new ticket row as a CTE of ``q`` returning it, written only if ``gate`` (SQL) holds."""
    values = ", ".join(q.arg(ticket[column], cast) for column, cast in _CREATED_COLUMNS)
    columns = ", ".join(column for column, _ in _CREATED_COLUMNS)
    q.cte(
        name,
        f"INSERT INTO tickets ({columns}, updated_at) SELECT {values}, {q.arg(ticket['created_at'], 'timestamptz')}"
        f" WHERE {gate} RETURNING *",
    )


def insert_citizen_into(q: Composed, name: str, ticket_id: str, citizen: dict[str, Any], *, gate: str) -> None:
    """The ticket's citizen as a CTE of ``q`` returning is_company and company: the person's own data is
    sealed in ticket_vault (vault/flows.py); a company's name is not personal."""
    q.cte(
        name,
        "INSERT INTO ticket_citizens (ticket_id, is_company, company)"
        f" SELECT {q.arg(ticket_id, 'text')}, {q.arg(citizen.get('is_company', False), 'boolean')},"
        f" {q.arg(citizen.get('company'), 'text')} WHERE {gate} RETURNING is_company, company",
    )


def claim_idempotency_key_into(
    q: Composed, name: str, *, principal: str, key: str, request_hash: str, ticket_id: str
) -> None:
    """The Idempotency-Key claimed for ``ticket_id`` as a CTE of ``q``: one row if claimed, none if the key
    was taken (a concurrent twin waits on the primary key until the first statement commits or aborts)."""
    q.cte(
        name,
        "INSERT INTO idempotency_keys (principal, key, request_hash, ticket_id)"
        f" SELECT {q.arg(principal, 'text')}, {q.arg(key, 'text')}, {q.arg(request_hash, 'text')},"
        f" {q.arg(ticket_id, 'text')} ON CONFLICT (principal, key) DO NOTHING RETURNING 1",
    )


async def find_idempotency_key(conn: Conn, principal: str, key: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, ticket_id FROM idempotency_keys WHERE principal = $1 AND key = $2", principal, key
    )


#: The ticket with its citizen as everyone may see it: masked forms and the contact reference (ticket_vault).
TICKET_COLUMNS = (
    "t.*, v.masked AS citizen_masked, v.contact_ref, c.is_company AS citizen_is_company, c.company AS citizen_company"
)
#: TICKET_COLUMNS' citizen columns over the creating statement's CTEs citizen c and vault v (creation.py).
CREATED_CITIZEN_COLUMNS = (
    "v.masked AS citizen_masked, v.contact_ref, c.is_company AS citizen_is_company, c.company AS citizen_company"
)
#: FROM clause matching TICKET_COLUMNS.
TICKET_FROM = (
    "tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id LEFT JOIN ticket_vault v ON v.ticket_id = t.id"
)


async def get_ticket(conn: Conn, ticket_id: str) -> Record | None:
    return await conn.fetchrow(
        f"SELECT {TICKET_COLUMNS} FROM {TICKET_FROM} WHERE t.id = $1",
        ticket_id,
    )


async def ticket_access(conn: Conn, ticket_id: str) -> Record | None:
    """created_by, every department that held the ticket, and those holding it now."""
    return await conn.fetchrow(
        "SELECT t.created_by,"
        " coalesce(array_agg(DISTINCT a.dept_code) FILTER (WHERE a.dept_code IS NOT NULL), '{}') AS depts_ever,"
        " coalesce(array_agg(DISTINCT a.dept_code) FILTER (WHERE a.ended_at IS NULL), '{}') AS depts_now"
        " FROM tickets t LEFT JOIN ticket_assignments a ON a.ticket_id = t.id WHERE t.id = $1 GROUP BY t.id",
        ticket_id,
    )


async def ticket_exists(conn: Conn, ticket_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)", ticket_id))
