"""Every SQL statement of intake, in one place."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.intake.projection import Assignment, TicketChange

Record = asyncpg.Record

# ---------------------------------------------------------------------------------------------- tickets


async def next_ticket_id(conn: Conn) -> str:
    # Human-readable: the hotline reads it out to the citizen (e.g. T20261122-0000123).
    value = await conn.fetchval(
        "SELECT 'T' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'"
        " || lpad(nextval('ticket_number')::text, 7, '0')"
    )
    return str(value)


async def insert_ticket(conn: Conn, ticket: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO tickets (id, channel, category, description, location, urgency, status, operator,"
        " attachments, attributes, created_by, direct_answer, created_at, updated_at, closed_at, status_notes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15)",
        ticket["id"],
        ticket["channel"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["status"],
        ticket["operator"],
        ticket["attachments"],
        ticket["attributes"],
        ticket["created_by"],
        ticket["direct_answer"],
        ticket["created_at"],
        ticket["closed_at"],
        ticket["status_notes"],
    )


async def insert_citizen(conn: Conn, ticket_id: str, citizen: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO ticket_citizens (ticket_id, name, phone, id_number, address, email, is_company, company)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ticket_id,
        citizen.get("name"),
        citizen.get("phone"),
        citizen.get("id_number"),
        citizen.get("address"),
        citizen.get("email"),
        citizen.get("is_company", False),
        citizen.get("company"),
    )


async def claim_idempotency_key(conn: Conn, principal: str, key: str, request_hash: str, ticket_id: str) -> bool:
    # A concurrent twin waits here on the primary key until the first transaction commits or aborts.
    inserted = await conn.fetchval(
        "INSERT INTO idempotency_keys (principal, key, request_hash, ticket_id) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (principal, key) DO NOTHING RETURNING 1",
        principal,
        key,
        request_hash,
        ticket_id,
    )
    return inserted is not None


async def find_idempotency_key(conn: Conn, principal: str, key: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, ticket_id FROM idempotency_keys WHERE principal = $1 AND key = $2", principal, key
    )


_TICKET_COLUMNS = (
    "t.*, c.name AS citizen_name, c.phone AS citizen_phone, c.id_number AS citizen_id_number,"
    " c.address AS citizen_address, c.email AS citizen_email, c.is_company AS citizen_is_company,"
    " c.company AS citizen_company"
)


async def get_ticket(conn: Conn, ticket_id: str) -> Record | None:
    return await conn.fetchrow(
        f"SELECT {_TICKET_COLUMNS} FROM tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id WHERE t.id = $1",
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


async def lock_ticket_status(conn: Conn, ticket_id: str) -> str | None:
    value = await conn.fetchval("SELECT status FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
    return None if value is None else str(value)


async def apply_change(conn: Conn, ticket_id: str, change: TicketChange) -> None:
    await conn.execute(
        "UPDATE tickets SET"
        " status = coalesce($2, status),"
        " closed_at = CASE WHEN $2::text IS NULL THEN closed_at WHEN $3 THEN coalesce(closed_at, now()) END,"
        " dept_code = CASE WHEN $4::text IS NOT NULL THEN $4 WHEN dept_code = $5 OR $5 = '*' THEN NULL"
        " ELSE dept_code END,"
        " agency = CASE WHEN $4::text IS NOT NULL THEN $6 WHEN dept_code = $5 OR $5 = '*' THEN NULL ELSE agency END,"
        " district = coalesce($7, district), street = coalesce($8, street),"
        " mode = coalesce($9, mode), emergency_id = CASE WHEN $9::text IS NULL THEN emergency_id ELSE $10 END,"
        " resolve_by = coalesce($11, resolve_by), overdue = coalesce($12, overdue),"
        " status_notes = coalesce($13, status_notes), updated_at = now()"
        " WHERE id = $1",
        ticket_id,
        change.status.value if change.status else None,
        change.closed,
        change.dept_code,
        change.release_dept,
        change.agency,
        change.district,
        change.street,
        change.mode,
        change.emergency_id,
        change.resolve_by,
        change.overdue,
        change.status_notes,
    )
    for assignment in change.assign:
        await add_assignment(conn, ticket_id, assignment)
    if change.end_assignment is not None:
        await conn.execute(
            "UPDATE ticket_assignments SET ended_at = now()"
            " WHERE ticket_id = $1 AND (assignment_id = $2 OR dept_code = $2) AND ended_at IS NULL",
            ticket_id,
            change.end_assignment,
        )
    if change.end_all_assignments:
        await conn.execute(
            "UPDATE ticket_assignments SET ended_at = now() WHERE ticket_id = $1 AND ended_at IS NULL", ticket_id
        )


async def add_assignment(conn: Conn, ticket_id: str, assignment: Assignment) -> None:
    await conn.execute(
        "INSERT INTO ticket_assignments (ticket_id, assignment_id, dept_code, role, assigned_at)"
        " VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
        ticket_id,
        assignment.assignment_id,
        assignment.dept_code,
        assignment.role,
    )


class TicketQuery:
    """Builds the WHERE clause of a ticket search with numbered parameters, so values never enter the SQL."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.args: list[Any] = []

    def add(self, condition: str, *values: Any) -> None:
        """``condition`` uses ``{}`` for each value, in order."""
        marks = []
        for value in values:
            self.args.append(value)
            marks.append(f"${len(self.args)}")
        self.where.append(condition.format(*marks))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_tickets(
    conn: Conn,
    *,
    filters: dict[str, Any],
    dept_scope: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Record]:
    """Newest first; ``after`` is the (created_at, id) of the last row of the previous page."""
    q = TicketQuery()
    if dept_scope is not None:
        q.add("EXISTS (SELECT 1 FROM ticket_assignments a WHERE a.ticket_id = t.id AND a.dept_code = {})", dept_scope)
    if filters.get("status"):
        q.add("t.status = ANY({}::text[])", [s.value for s in filters["status"]])
    for column in ("category", "dept_code", "district", "street"):
        if filters.get(column) is not None:
            q.add(f"t.{column} = {{}}", filters[column])
    for column in ("channel", "urgency", "mode"):
        if filters.get(column) is not None:
            q.add(f"t.{column} = {{}}", filters[column].value)
    for name, column, op in (
        ("created_from", "created_at", ">="),
        ("created_to", "created_at", "<="),
        ("closed_from", "closed_at", ">="),
        ("closed_to", "closed_at", "<="),
    ):
        if filters.get(name) is not None:
            q.add(f"t.{column} {op} {{}}", filters[name])
    # coalesce: without a deadline a ticket is not overdue (NULL would drop it from both answers).
    overdue = (
        "(t.overdue OR coalesce(t.resolve_by < now() AND t.status NOT IN ('resolved', 'closed', 'handed_over'), false))"
    )
    if filters.get("overdue") is True:
        q.add(overdue)
    elif filters.get("overdue") is False:
        q.add(f"NOT {overdue}")
    if filters.get("q"):
        q.add("t.description ILIKE {}", _like(filters["q"]))
    if after is not None:
        q.add("(t.created_at, t.id) < ({}, {})", *after)
    where = " AND ".join(q.where) or "true"
    q.args.append(limit)
    return await conn.fetch(
        f"SELECT {_TICKET_COLUMNS} FROM tickets t LEFT JOIN ticket_citizens c ON c.ticket_id = t.id"
        f" WHERE {where} ORDER BY t.created_at DESC, t.id DESC LIMIT ${len(q.args)}",
        *q.args,
    )


# ---------------------------------------------------------------------------------------------- timeline


async def append_timeline(
    conn: Conn,
    *,
    ticket_id: str,
    event_id: str,
    type_: str,
    time: Any,
    actor: str,
    summary: str,
    status: str | None,
    detail: dict[str, Any],
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO ticket_timeline (ticket_id, event_id, type, time, actor, summary, status, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING RETURNING 1",
        ticket_id,
        event_id,
        type_,
        time,
        actor,
        summary,
        status,
        detail,
    )
    return inserted is not None


async def timeline(conn: Conn, ticket_id: str) -> list[Record]:
    return await conn.fetch("SELECT * FROM ticket_timeline WHERE ticket_id = $1 ORDER BY seq", ticket_id)


# ---------------------------------------------------------------------------------------------- access log


async def record_access(
    conn: Conn, *, subject: str, role: str, dept_code: str | None, ticket_id: str, fields: Sequence[str], purpose: str
) -> None:
    await conn.execute(
        "INSERT INTO access_log (subject, role, dept_code, ticket_id, fields, purpose) VALUES ($1, $2, $3, $4, $5, $6)",
        subject,
        role,
        dept_code,
        ticket_id,
        list(fields),
        purpose,
    )


async def access_log(
    conn: Conn, *, ticket_id: str | None, subject: str | None, after_id: int | None, limit: int
) -> list[Record]:
    return await conn.fetch(
        "SELECT * FROM access_log WHERE ($1::text IS NULL OR ticket_id = $1) AND ($2::text IS NULL OR subject = $2)"
        " AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        ticket_id,
        subject,
        after_id,
        limit,
    )


# ---------------------------------------------------------------------------------------------- accounts


async def account_for_api_key(conn: Conn, key_hash: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT a.username, a.role, a.dept_code FROM api_keys k JOIN accounts a ON a.username = k.username"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.active",
        key_hash,
    )


async def account(conn: Conn, username: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT username, role, dept_code, password_hash FROM accounts WHERE username = $1 AND active", username
    )


async def existing_accounts(conn: Conn, usernames: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT username FROM accounts WHERE username = ANY($1::text[])", list(usernames))
    return {str(r["username"]) for r in rows}


async def insert_account(
    conn: Conn, *, username: str, display_name: str, role: str, dept_code: str | None, password_hash: str | None
) -> None:
    await conn.execute(
        "INSERT INTO accounts (username, display_name, role, dept_code, password_hash)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
        username,
        display_name,
        role,
        dept_code,
        password_hash,
    )


async def insert_api_key(conn: Conn, *, key_hash: str, username: str, label: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_hash, username, label) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING",
        key_hash,
        username,
        label,
    )


# ---------------------------------------------------------------------------------------------- open311


async def insert_open311_client(conn: Conn, *, key_hash: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO open311_clients (key_hash, name) VALUES ($1, $2) ON CONFLICT (key_hash) DO NOTHING",
        key_hash,
        name,
    )


async def open311_client(conn: Conn, key_hash: str) -> str | None:
    value = await conn.fetchval("SELECT name FROM open311_clients WHERE key_hash = $1 AND active", key_hash)
    return None if value is None else str(value)


async def open311_services(conn: Conn) -> list[Record]:
    return await conn.fetch(
        "SELECT s.*, EXISTS (SELECT 1 FROM open311_attributes a WHERE a.service_code = s.service_code) AS metadata"
        " FROM open311_services s ORDER BY sort, service_code"
    )


async def open311_service(conn: Conn, service_code: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT s.*, EXISTS (SELECT 1 FROM open311_attributes a WHERE a.service_code = s.service_code) AS metadata"
        " FROM open311_services s WHERE service_code = $1",
        service_code,
    )


async def open311_attributes(conn: Conn, service_code: str) -> list[Record]:
    return await conn.fetch("SELECT * FROM open311_attributes WHERE service_code = $1 ORDER BY ord", service_code)


async def insert_open311_request(
    conn: Conn, *, token: str, ticket_id: str, client: str, account_id: str | None, device_id: str | None
) -> None:
    await conn.execute(
        "INSERT INTO open311_requests (token, ticket_id, client, account_id, device_id) VALUES ($1, $2, $3, $4, $5)",
        token,
        ticket_id,
        client,
        account_id,
        device_id,
    )


async def open311_token(conn: Conn, token: str) -> Record | None:
    return await conn.fetchrow("SELECT token, ticket_id FROM open311_requests WHERE token = $1", token)


_OPEN311_COLUMNS = (
    "t.id, t.status, t.status_notes, t.category, s.service_name, t.description, t.agency, t.resolve_by,"
    " t.created_at, t.updated_at, t.location, t.attachments"
)
_OPEN311_FROM = (
    " FROM open311_requests r JOIN tickets t ON t.id = r.ticket_id"
    " LEFT JOIN open311_services s ON s.service_code = t.category"
)
#: Open311's two statuses: closed once the loop is closed (or handed to 110/119/120/122), open before.
OPEN311_CLOSED = ("closed", "handed_over")


async def open311_requests_by_id(conn: Conn, ids: Sequence[str]) -> list[Record]:
    return await conn.fetch(
        f"SELECT {_OPEN311_COLUMNS}{_OPEN311_FROM} WHERE t.id = ANY($1::text[]) ORDER BY t.created_at DESC, t.id DESC",
        list(ids),
    )


async def open311_requests(
    conn: Conn,
    *,
    service_codes: Sequence[str],
    statuses: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> list[Record]:
    """Requests made through Open311 in [start, end], newest first; statuses are open/closed."""
    return await conn.fetch(
        f"SELECT {_OPEN311_COLUMNS}{_OPEN311_FROM}"
        " WHERE t.created_at BETWEEN $1 AND $2"
        " AND (cardinality($3::text[]) = 0 OR t.category = ANY($3::text[]))"
        " AND (cardinality($4::text[]) = 0"
        "      OR (CASE WHEN t.status = ANY($5::text[]) THEN 'closed' ELSE 'open' END) = ANY($4::text[]))"
        " ORDER BY t.created_at DESC, t.id DESC LIMIT $6",
        start,
        end,
        list(service_codes),
        list(statuses),
        list(OPEN311_CLOSED),
        limit,
    )
