"""The firing loop: claims due clocks (SKIP LOCKED, so replicas share the work without double-firing),
and announces warnings and breaches in the same transaction that marks them fired."""

import asyncio
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram

from cityloop.common import outbox
from cityloop.common.contract import types
from cityloop.common.db.pool import PgPool
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.sla import queries
from cityloop.sla.clocks import sla_event
from cityloop.sla.settings import SlaSettings

FIRED = Counter("cityloop_sla_fired_total", "Clock firings", ["what"])
LATENESS = Histogram(
    "cityloop_sla_firing_lateness_seconds",
    "How long after its moment a clock fired",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300),
)


async def fire_once(pool: PgPool, settings: SlaSettings) -> int:
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        warnings = await queries.claim_due_warnings(conn, now, settings.fire_batch)
        for clock in warnings:
            LATENESS.observe((now - clock["warn_at"]).total_seconds())
            await outbox.enqueue(
                conn,
                TICKET_LIFECYCLE.name,
                sla_event(
                    clock["ticket_id"],
                    types.SLA_WARNING,
                    f"{clock['kind']} deadline approaching",
                    kind=clock["kind"],
                    due_at=clock["due_at"].isoformat(),
                    dept_code=clock["dept_code"],
                ),
            )
        breaches = await queries.claim_due_breaches(conn, now, settings.fire_batch)
        for clock in breaches:
            LATENESS.observe((now - clock["due_at"]).total_seconds())
            await outbox.enqueue(
                conn,
                TICKET_LIFECYCLE.name,
                sla_event(
                    clock["ticket_id"],
                    types.SLA_BREACHED,
                    f"{clock['kind']} deadline missed",
                    kind=clock["kind"],
                    due_at=clock["due_at"].isoformat(),
                    dept_code=clock["dept_code"],
                ),
            )
    FIRED.labels("warning").inc(len(warnings))
    FIRED.labels("breach").inc(len(breaches))
    return len(warnings) + len(breaches)


async def run_firing_loop(pool: PgPool, settings: SlaSettings) -> None:
    while True:
        if await fire_once(pool, settings) == 0:
            await asyncio.sleep(settings.tick_seconds)
