"""With the broker stopped for 30 s, intake still accepts tickets (its outbox holds them) and every one is
routed once the broker is back; no DLQ gains anything; the outbox relays and the consumers come back by
themselves, and /readyz said what was wrong meanwhile.

The broker is one of the test's own (private_broker.py) and intake and router run on a database of their
own: stopping the shared broker would break every other session.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from cityloop.intake.app import create_app as intake_app
from cityloop.intake.settings import IntakeSettings
from cityloop.router.app import create_app as router_app
from cityloop.router.settings import RouterSettings
from tests.conftest import TEST_DB
from tests.databases import scratch_database
from tests.integration.conftest import InProcessServices
from tests.integration.private_broker import PrivateBroker, private_broker
from tests.integration.test_database_outage import ROUTED, tickets

OUTAGE_SECONDS = 30.0
Apps = dict[str, FastAPI]


@asynccontextmanager
async def intake_and_router(broker: PrivateBroker, dsn: str) -> AsyncIterator[tuple[Apps, httpx.AsyncClient]]:
    """intake (the gateway) and router on ``broker`` and database ``dsn``; a client signed in as the demo
    dispatcher."""
    # A classifier from the fewest seed examples: a fresh database trains one at start, and the tickets
    # here name their category anyway.
    router = router_app(
        RouterSettings(kafka_bootstrap=broker.bootstrap, database_url=dsn, seed_examples_per_category=3)
    )
    intake = intake_app(
        IntakeSettings(kafka_bootstrap=broker.bootstrap, database_url=dsn, router_url="http://router"),
        upstream_transport=InProcessServices({"router": router}),
    )
    apps = {"intake": intake, "router": router}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with asyncio.timeout(90):
            for app in apps.values():
                await app.state.runtime.wait_consumers_ready()
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake")
        )
        login = await client.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo-dispatcher"})
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield apps, client


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def routed(client: httpx.AsyncClient, ticket_id: str) -> None:
    while True:
        response = await client.get(f"/api/v1/tickets/{ticket_id}/timeline")
        assert response.status_code == 200, response.text
        if any(e["type"] in ROUTED for e in response.json()):
            return
        await asyncio.sleep(0.2)


async def readiness(app: FastAPI) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
        return await client.get("/readyz")


async def ready_again(apps: Apps) -> None:
    for app in apps.values():
        while True:
            if (await readiness(app)).status_code == 200:
                break
            await asyncio.sleep(0.5)


async def dead_lettered(bootstrap: str) -> dict[str, int]:
    """How many messages each DLQ topic on the broker holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if t.endswith(".dlq")]
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or set()]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {t: sum(end for tp, end in ends.items() if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


async def test_with_the_broker_stopped_for_30_s_tickets_are_accepted_and_all_routed_after() -> None:
    bodies = tickets()
    accepted: list[str] = []
    async with (
        private_broker() as broker,
        scratch_database(f"{TEST_DB}_broker") as dsn,
        intake_and_router(broker, dsn) as (apps, client),
    ):
        before = await create(client, next(bodies))
        await routed(client, before)  # the path works (and the department's task topic exists)

        await broker.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < OUTAGE_SECONDS:
            accepted.append(await create(client, next(bodies)))
            await asyncio.sleep(1.0)
        during = {name: await readiness(app) for name, app in apps.items()}
        await broker.start()
        back = time.monotonic()

        async with asyncio.timeout(180):
            for ticket_id in accepted:
                await routed(client, ticket_id)
        drained = time.monotonic()
        async with asyncio.timeout(60):
            await ready_again(apps)
        dlqs = await dead_lettered(broker.bootstrap)

    assert len(accepted) >= 10
    for name, answer in during.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.json()["checks"]["kafka"].startswith("failed: "), (name, answer.text)
    assert dlqs, "the services made their DLQ topics"
    assert all(count == 0 for count in dlqs.values()), dlqs
    print(
        f"\nbroker away {back - stopped:.0f} s: {len(accepted)} tickets accepted meanwhile,"
        f" all routed {drained - back:.1f} s after it answered again"
    )
