"""A database outage in the middle of a load is waited out: every ticket is routed, no DLQ gains anything.

The shared PostgreSQL is not restarted (other sessions use it): this session's own database is closed to
new connections and its backends are killed again and again for a few seconds, which is what the
services see of a restart.
"""

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from cityloop.router.data.files import city_files
from tests.conftest import KAFKA, TEST_DB, TOPIC_PREFIX
from tests.databases import ADMIN_DSN
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import create, timeline
from tests.integration.test_skeleton_loop import TICKET, fresh_ticket

OUTAGE_SECONDS = 4.0
ROUTED = ("cityloop.ticket.dispatched", "cityloop.ticket.merged")


def tickets() -> Iterator[dict[str, Any]]:
    """A ticket at a different grid of the city each time (the same place twice could be merged)."""
    files = city_files()
    for grid in files.grids:
        district = next(d for d in files.districts if grid.code.startswith(f"{d.code}-"))
        yield {**TICKET, "location": {"address": f"{district.name}{grid.road}{grid.num_lo}号"}}


async def dlq_ends() -> dict[TopicPartition, int]:
    """End offset of every partition of every DLQ topic of this session."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=None)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.startswith(TOPIC_PREFIX) and t.endswith(".dlq")]
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or set())]
        return dict(await consumer.end_offsets(partitions)) if partitions else {}
    finally:
        await consumer.stop()


async def outage(
    admin: asyncpg.Connection, loop: Loop, begun: asyncio.Event, stalls: set[str], *, until_stalled: str
) -> None:
    """Close the test database to connections and keep killing its backends, for at least
    OUTAGE_SECONDS and until consumer ``until_stalled`` is seen waiting it out; notes every stalled one."""
    await admin.execute(f'ALTER DATABASE "{TEST_DB}" ALLOW_CONNECTIONS false')
    begun.set()
    try:
        at_least = time.monotonic() + OUTAGE_SECONDS
        async with asyncio.timeout(120):
            while time.monotonic() < at_least or until_stalled not in stalls:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    TEST_DB,
                )
                for service in ("router", "sla", "feedback", "intake"):
                    for name, consumer in loop.runtime(service).consumers.items():
                        if consumer.stalled is not None:
                            stalls.add(name)
                await asyncio.sleep(0.05)
    finally:
        await admin.execute(f'ALTER DATABASE "{TEST_DB}" ALLOW_CONNECTIONS true')


async def test_a_database_outage_mid_load_routes_every_ticket_and_dead_letters_nothing(loop: Loop) -> None:
    before = await dlq_ends()
    accepted: list[str] = []
    stalls: set[str] = set()
    outage_over = asyncio.Event()
    enough_before = asyncio.Event()

    async def load() -> None:
        after_outage = 0
        bodies = tickets()
        body = next(bodies)
        while after_outage < 5:
            with contextlib.suppress(Exception):  # refused while the database is away: not accepted, not counted
                response = await loop.intake.post("/api/v1/tickets", json=body)
                if response.status_code == 201:
                    accepted.append(response.json()["id"])
                    if len(accepted) >= 10:
                        enough_before.set()
                    after_outage += outage_over.is_set()
                    body = next(bodies)
                    continue
            await asyncio.sleep(0.1)

    # A department answer sent while the database is away: router's consumer surely meets the outage.
    answered = await create(loop, fresh_ticket())
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
            task = await dept.next_task(answered)
            loading = asyncio.create_task(load())
            await enough_before.wait()
            begun = asyncio.Event()
            down = asyncio.create_task(outage(admin, loop, begun, stalls, until_stalled="router.dept-updates"))
            await begun.wait()
            await dept.answer(task, "cityloop.dept.accepted")
            await down
            outage_over.set()
            await loading
    finally:
        await admin.close()
    await timeline(loop, answered, "cityloop.ticket.accepted")

    for ticket_id in accepted:
        await timeline(loop, ticket_id, ROUTED)
    # The outage did reach consumers in the middle of their work (else this test proves nothing)...
    assert "router.dept-updates" in stalls
    # ...and they waited it out: nothing was dead-lettered anywhere.
    after = await dlq_ends()
    grown = {
        f"{tp.topic}/{tp.partition}": end - before.get(tp, 0) for tp, end in after.items() if end > before.get(tp, 0)
    }
    assert grown == {}
    ready = await loop.feedback.get("/readyz")
    assert ready.json()["checks"]["consumers"] == "ok"


async def readiness(loop: Loop, service: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=loop.apps[service]), base_url="http://s") as client:
        return await client.get("/readyz")


async def test_with_the_database_away_every_service_is_not_ready_and_recovers_by_itself(loop: Loop) -> None:
    services = sorted(loop.apps)
    not_ready: dict[str, dict[str, Any]] = {}
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'ALTER DATABASE "{TEST_DB}" ALLOW_CONNECTIONS false')
        try:
            async with asyncio.timeout(60):
                while len(not_ready) < len(services):
                    # Backends opened since the last round are killed too: what a restart looks like.
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = $1 AND pid <> pg_backend_pid()",
                        TEST_DB,
                    )
                    for service in services:
                        response = await readiness(loop, service)
                        if response.status_code == 503:
                            not_ready.setdefault(service, response.json())
            # Meanwhile the API refuses politely: 503 with Retry-After in the JSON error format, no hang.
            refused = await loop.intake.post("/api/v1/tickets", json=fresh_ticket())
        finally:
            await admin.execute(f'ALTER DATABASE "{TEST_DB}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()

    for service, body in not_ready.items():
        assert body["ready"] is False, service
        assert body["checks"]["database"].startswith("failed: "), (service, body)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    # Nobody restarts anything: every service finds its database again and says so.
    async with asyncio.timeout(60):
        while True:
            answers = {service: await readiness(loop, service) for service in services}
            if all(a.status_code == 200 for a in answers.values()):
                break
            await asyncio.sleep(0.2)
    assert all(a.json()["ready"] is True for a in answers.values())
    await create(loop, fresh_ticket())
