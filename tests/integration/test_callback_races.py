"""A resolution that arrives while an operator records the overdue callback in its way still opens the
callback that asks about the resolution (found by the fault harness: the ticket stayed resolved, never
called back about it, never closed)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from cityloop.common.contract import types
from cityloop.feedback.callbacks import flows
from tests.integration.conftest import Loop
from tests.integration.places import hp_address
from tests.integration.test_skeleton_loop import TICKET
from tests.stand_ins import lifecycle


async def test_resolution_while_the_overdue_callback_is_being_recorded_opens_a_callback(loop: Loop) -> None:
    pool = loop.runtime("feedback").pool
    # A place of its own (fresh_ticket's streets are counted out by the other tests).
    created = await loop.intake.post("/api/v1/tickets", json={**TICKET, "location": {"address": hp_address()}})
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    assignment = f"A-race-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    breach = lifecycle(
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
    async with pool.acquire() as conn, conn.transaction():
        await flows.on_lifecycle(conn, breach)
    overdue = await pool.fetchrow("SELECT id, trigger, status FROM callbacks WHERE ticket_id = $1", ticket_id)
    assert overdue is not None
    assert (overdue["trigger"], overdue["status"]) == ("overdue", "due")

    resolved = lifecycle(
        "/cityloop/router",
        types.TICKET_RESOLVED,
        ticket_id,
        None,
        {"dept_code": "hp-sanitation", "assignment_id": assignment, "note": "已处理"},
    )
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
