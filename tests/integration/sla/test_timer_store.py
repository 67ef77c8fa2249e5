"""The timer store on the real database: replicas share due timers without double-firing; a mode switch
recomputes tens of thousands of clocks in one statement."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from cityloop.common.db.pool import create_pool
from cityloop.sla import queries
from cityloop.sla.firing import Firer
from cityloop.sla.modes import switch_mode
from cityloop.sla.policy import EMERGENCY_POLICY
from tests.integration.sla.conftest import Sla


def bare_clock(ticket_id: str, *, due: datetime, step: int = 1, dept: str | None = None) -> queries.NewClock:
    """A clock as the bench and these tests load it: no department task topic unless ``dept`` is given."""
    return queries.NewClock(
        ticket_id=ticket_id,
        assignment_id=f"A-{ticket_id}" if dept else None,
        dept_code=dept,
        category="roads.pothole",
        urgency="normal",
        mode="peacetime",
        command_unit=None,
        supervisors=[],
        kind="accept",
        opened_by=None,
        started_at=due - timedelta(hours=1),
        warn_at=due - timedelta(minutes=12),
        due_at=due,
        latest_due_at=None,
        estimated=False,
        warn_ratio=0.8,
        escalate_days=None,
        escalate_seconds=3600.0,
        step=step,
        next_fire_at=due if step == 1 else due - timedelta(minutes=12),
    )


async def test_replicas_share_due_timers_without_double_firing(sla: Sla) -> None:
    run = uuid.uuid4().hex[:8]
    tickets = [f"T-rep-{run}-{i}" for i in range(3000)]
    due = datetime.now(UTC) - timedelta(seconds=1)
    async with sla.pool.acquire() as conn:
        await queries.copy_clocks(conn, [bare_clock(t, due=due) for t in tickets])
    settings = sla.settings.model_copy(update={"fire_batch": 100})
    second_pool = await create_pool(settings.database_url, settings.db_schema, min_size=1, max_size=2)
    try:
        # Two more replicas race the service's own loop over the same 3000 due breaches.
        replicas = [Firer(sla.pool, settings), Firer(second_pool, settings)]

        async def still_due() -> int:
            return int(
                await sla.pool.fetchval(
                    "SELECT count(*) FROM clocks WHERE ticket_id = ANY($1::text[]) AND next_fire_at <= now()", tickets
                )
            )

        async def drain(firer: Firer) -> int:
            total = 0
            # A round that finds nothing may only mean another replica holds the rest: look again.
            while (fired := await firer.fire_due()) or await still_due():
                total += fired
                if not fired:
                    await asyncio.sleep(0.01)
            return total

        fired = await asyncio.gather(*(drain(f) for f in replicas))
    finally:
        await second_pool.close()
    assert sum(fired) > 0
    counts = await sla.pool.fetch(
        "SELECT fire_count, fired_step, count(*) AS n FROM clocks WHERE ticket_id = ANY($1::text[])"
        " GROUP BY fire_count, fired_step",
        tickets,
    )
    assert [(r["fire_count"], r["fired_step"], r["n"]) for r in counts] == [(1, 1, 3000)]
    events = await sla.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = ANY($1::text[])",
        tickets,
    )
    assert events == 3000  # one breach each, however many replicas tried


async def test_mode_switch_recomputes_many_clocks_in_one_statement(sla: Sla) -> None:
    run = uuid.uuid4().hex[:8]
    tickets = [f"T-mode-{run}-{i}" for i in range(20_000)]
    far = datetime.now(UTC) + timedelta(days=3)
    at = datetime.now(UTC).replace(microsecond=0)
    async with sla.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await queries.copy_clocks(conn, [bare_clock(t, due=far, step=0, dept="sla-street") for t in tickets])
            changed = await switch_mode(
                conn,
                ticket_ids=tickets,
                mode="emergency",
                at=at,
                policy=EMERGENCY_POLICY,
                settings=sla.settings,
                command_unit="sla-city",
                emergency_id="E-1",
            )
            assert changed == 20_000
            row = await conn.fetchrow(
                "SELECT count(*) AS n, min(due_at) AS lo, max(due_at) AS hi, bool_and(mode = 'emergency') AS emergency,"
                " bool_and(next_fire_at = warn_at AND step = 0) AS ladder_restarted,"
                " bool_and(command_unit = 'sla-city') AS commanded"
                " FROM clocks WHERE ticket_id = ANY($1::text[])",
                tickets,
            )
            assert row is not None
            assert (row["n"], row["lo"], row["hi"]) == (20_000, at + timedelta(minutes=15), at + timedelta(minutes=15))
            assert (row["emergency"], row["ladder_restarted"], row["commanded"]) == (True, True, True)
            announced = await conn.fetchval("SELECT count(*) FROM outbox WHERE key = ANY($1::text[])", tickets)
            assert announced == 40_000  # every ticket's new deadline, in the trail and to its department
        finally:
            # Rolled back: these clocks were never real, and their events must not reach the broker.
            await tx.rollback()
