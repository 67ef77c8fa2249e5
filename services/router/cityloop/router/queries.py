"""Every SQL statement of router, in one place."""

from datetime import datetime
from typing import Any

import asyncpg

from cityloop.common.db.pool import Conn
from cityloop.router.routing import Catalogue, Category, Department


async def load_catalogue(conn: Conn) -> Catalogue:
    categories = {
        r["code"]: Category(
            code=r["code"],
            name=r["name"],
            dept_type=r["dept_type"],
            dept_level=r["dept_level"],
            handover_to=r["handover_to"],
            accept_days=r["accept_days"],
            resolve_days=r["resolve_days"],
        )
        for r in await conn.fetch("SELECT * FROM categories")
    }
    departments = {
        r["code"]: Department(r["code"], r["name"], r["type"], r["level"], r["district"])
        for r in await conn.fetch("SELECT * FROM departments")
    }
    districts = {r["name"]: r["code"] for r in await conn.fetch("SELECT code, name FROM districts")}
    return Catalogue(categories, departments, districts)


async def department_codes(conn: Conn) -> list[str]:
    return [r["code"] for r in await conn.fetch("SELECT code FROM departments ORDER BY code")]


async def upsert_ticket(conn: Conn, ticket: dict[str, Any]) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO tickets (ticket_id, category, description, location, urgency, citizen, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (ticket_id) DO NOTHING RETURNING 1",
        ticket["ticket_id"],
        ticket["category"],
        ticket["description"],
        ticket["location"],
        ticket["urgency"],
        ticket["citizen"],
        ticket["status"],
        ticket["created_at"],
    )
    return inserted is not None


async def set_ticket_status(conn: Conn, ticket_id: str, status: str) -> None:
    await conn.execute("UPDATE tickets SET status = $2 WHERE ticket_id = $1", ticket_id, status)


async def insert_assignment(
    conn: Conn,
    *,
    assignment_id: str,
    ticket_id: str,
    dept_code: str,
    role: str,
    reason: dict[str, str],
    accept_by: datetime,
    resolve_by: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO assignments (id, ticket_id, dept_code, role, status, reason, accept_by, resolve_by)"
        " VALUES ($1, $2, $3, $4, 'assigned', $5, $6, $7)",
        assignment_id,
        ticket_id,
        dept_code,
        role,
        reason,
        accept_by,
        resolve_by,
    )


async def lock_assignment(conn: Conn, assignment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1 FOR UPDATE", assignment_id)


async def set_assignment_status(conn: Conn, assignment_id: str, status: str) -> None:
    await conn.execute("UPDATE assignments SET status = $2, updated_at = now() WHERE id = $1", assignment_id, status)
