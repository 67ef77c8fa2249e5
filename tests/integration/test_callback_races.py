"""Callbacks where a resolution and the resolve deadline's breach cross (both found by the fault harness).

A resolution that arrives while an operator records the overdue callback in its way still opens the callback
that asks about the resolution (the ticket stayed resolved, never called back about it, never closed). A
breach that arrives after the resolution opens no callback while that resolution stands (under load it came
after the resolution's callback had been answered: the citizen would have been called about a closed ticket)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from cityloop.common.contract import types
from cityloop.common.db.pool import PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.callbacks import flows
from tests.integration.conftest import Loop
from tests.integration.places import hp_address
from tests.integration.test_skeleton_loop import TICKET
from tests.stand_ins import lifecycle


async def new_ticket(loop: Loop) -> str:
    # A place of its own (fresh_ticket's streets are counted out by the other tests).
    created = await loop.intake.post("/api/v1/tickets", json={**TICKET, "location": {"address": hp_address()}})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def resolve_breach(ticket_id: str, assignment: str) -> CloudEvent:
    now = datetime.now(UTC)
    return lifecycle(
        "/cityloop/sla",
        types.SLA_BREACHED,
        ticket_id,
        None,
        {
            "kind": "resolve",
            "due_at": now - timedelta(minutes=1),
            "dept_code": "hp-sanitation",
            "assignment_id": assignment,
            "step": "breach",
            "scheduled_at": now - timedelta(minutes=1),
            "clock_id": 1,
        },
    )


def resolution(ticket_id: str, assignment: str) -> CloudEvent:
    return lifecycle(
        "/cityloop/router",
        types.TICKET_RESOLVED,
        ticket_id,
        None,
        {"dept_code": "hp-sanitation", "assignment_id": assignment, "note": "已处理"},
    )


async def apply(pool: PgPool, event: CloudEvent) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await flows.on_lifecycle(conn, event)


async def callbacks_of(pool: PgPool, ticket_id: str) -> list[tuple[str, str, str | None]]:
    rows = await pool.fetch(
        "SELECT trigger, status, verdict FROM callbacks WHERE ticket_id = $1 ORDER BY id", ticket_id
    )
    return [(r["trigger"], r["status"], r["verdict"]) for r in rows]


async def test_resolution_while_the_overdue_callback_is_being_recorded_opens_a_callback(loop: Loop) -> None:
    pool = loop.runtime("feedback").pool
    ticket_id = await new_ticket(loop)
    assignment = f"A-race-{uuid.uuid4().hex[:8]}"
    await apply(pool, resolve_breach(ticket_id, assignment))
    overdue = await pool.fetchrow("SELECT id, trigger, status FROM callbacks WHERE ticket_id = $1", ticket_id)
    assert overdue is not None
    assert (overdue["trigger"], overdue["status"]) == ("overdue", "due")

    resolved = resolution(ticket_id, assignment)
    # An operator holds the overdue callback (recording the citizen's answer) when the resolution comes in.
    async with pool.acquire() as desk:
        desk_tx = desk.transaction()
        await desk_tx.start()
        await desk.fetchrow("SELECT * FROM callbacks WHERE id = $1 FOR UPDATE", overdue["id"])

        async def apply_resolution() -> None:
            async with pool.acquire() as conn, conn.transaction():
                await flows.on_lifecycle(conn, resolved)

        applying = asyncio.create_task(apply_resolution())
        await asyncio.sleep(1.0)
        assert not applying.done(), "the resolution should wait for the operator's lock"
        await desk.execute("UPDATE callbacks SET status = 'done' WHERE id = $1", overdue["id"])
        await desk_tx.commit()
        await asyncio.wait_for(applying, 30)

    rows = await pool.fetch("SELECT trigger, status FROM callbacks WHERE ticket_id = $1 ORDER BY id", ticket_id)
    assert [(r["trigger"], r["status"]) for r in rows] == [("overdue", "done"), ("resolved", "due")]


async def test_a_breach_after_the_resolution_opens_no_callback_while_the_resolution_stands(loop: Loop) -> None:
    pool = loop.runtime("feedback").pool
    ticket_id = await new_ticket(loop)
    assignment = f"A-late-{uuid.uuid4().hex[:8]}"
    await apply(pool, resolution(ticket_id, assignment))
    await apply(pool, resolve_breach(ticket_id, assignment))  # while the resolution's callback is due
    assert await callbacks_of(pool, ticket_id) == [("resolved", "due", None)]
    # The citizen confirms it solved: the ticket closes. The same breach, late, must not ask again.
    await pool.execute("UPDATE callbacks SET status = 'done', verdict = 'close' WHERE ticket_id = $1", ticket_id)
    await apply(pool, resolve_breach(ticket_id, assignment))
    assert await callbacks_of(pool, ticket_id) == [("resolved", "done", "close")]
    # 重办: the ticket is the department's again, with a deadline again; its breach asks the citizen.
    await pool.execute("UPDATE callbacks SET verdict = 'rehandle' WHERE ticket_id = $1", ticket_id)
    await apply(pool, resolve_breach(ticket_id, assignment))
    assert await callbacks_of(pool, ticket_id) == [("resolved", "done", "rehandle"), ("overdue", "due", None)]
