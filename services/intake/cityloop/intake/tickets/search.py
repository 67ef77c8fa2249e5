"""Searching tickets: the filters of ``GET /api/v1/tickets`` as SQL, newest first, by keyset."""

from typing import Any

import asyncpg

from cityloop.common.db.like import escape_like
from cityloop.common.db.pool import Conn
from cityloop.common.paging import Keyset
from cityloop.intake.tickets.store import TICKET_COLUMNS, TICKET_FROM

Record = asyncpg.Record


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
    return f"%{escape_like(text)}%"


#: Ticket lists: newest first.
TICKET_ORDER = Keyset(("t.created_at", "timestamptz"), ("t.id", "text"), descending=True)


async def list_tickets(
    conn: Conn,
    *,
    filters: dict[str, Any],
    dept_scope: str | None,
    cursor: str | None,
    limit: int,
) -> list[Record]:
    """Newest first, from ``cursor`` on (TICKET_ORDER)."""
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
    if filters.get("phone_index") is not None:
        q.add("v.phone_index = {}", filters["phone_index"])
    if filters.get("q"):
        q.add("t.description ILIKE {}", _like(filters["q"]))
    after = TICKET_ORDER.decode(cursor)
    if after is not None:
        q.add(TICKET_ORDER.comparison(["{}"] * len(after)), *after)
    where = " AND ".join(q.where) or "true"
    q.args.append(limit)
    return await conn.fetch(
        f"SELECT {TICKET_COLUMNS} FROM {TICKET_FROM}"
        f" WHERE {where} ORDER BY {TICKET_ORDER.order_by()} LIMIT ${len(q.args)}",
        *q.args,
    )
