"""A relay killed (SIGKILL) in the middle of publishing loses nothing, and the effect is exactly once.

Intake runs here with its relay switched off (``outbox_relay_in_process=False``); the relay runs as its own
process (``python -m cityloop.common.relay_process``), as a deployment that scales them apart would. The
test holds row locks on the outbox rows after the first batch, so the relay publishes batch 1 and marks
it, publishes batch 2 to Kafka, then blocks on marking it: exactly "published but not marked". The test
sees both facts (the events on the topic, the relay's UPDATE waiting on a lock), then kills the relay.
After a restart every ticket's event is on the topic (some twice), and a consumer applies each once.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import Conn, PgPool, create_pool
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EVENTS_CONSUMED, EventConsumer
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import TICKET_LIFECYCLE, full_name
from cityloop.intake.app import create_app
from cityloop.intake.settings import IntakeSettings
from tests.conftest import KAFKA, TEST_DB, TOPIC_PREFIX
from tests.databases import admin_dsn_for, dsn_for, scratch_database
from tests.integration.test_skeleton_loop import TICKET

TICKETS = 12
BATCH = 5
CRASH_DB = f"{TEST_DB}_crash"
CRASH_DSN = dsn_for(CRASH_DB)
PREFIX = f"{TOPIC_PREFIX}crash."


@pytest.fixture
async def crash_database(database: str, kafka: str) -> AsyncIterator[str]:
    async with scratch_database(CRASH_DB) as dsn:
        yield dsn


def start_relay(log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CITYLOOP_DATABASE_URL": CRASH_DSN,
        "CITYLOOP_TOPIC_PREFIX": PREFIX,
        "CITYLOOP_KAFKA_BOOTSTRAP": KAFKA,
        "CITYLOOP_OUTBOX_BATCH": str(BATCH),
        "CITYLOOP_LOG_JSON": "false",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cityloop.common.relay_process", "cityloop.intake.settings.IntakeSettings"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def relay_blocked_on_marking() -> bool:
    """True while some backend of this database waits on a row lock in the relay's UPDATE. (As the cluster's
    superuser: the owner does not see what the service role's sessions wait on.)"""
    watcher = await asyncpg.connect(admin_dsn_for(CRASH_DB))
    try:
        value = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"
            " AND query LIKE 'UPDATE outbox SET published_at%'",
            CRASH_DB,
        )
    finally:
        await watcher.close()
    return bool(value)


class TopicReader:
    """Every message on the crash run's ticket.lifecycle, counted by event id."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self._consumer = AIOKafkaConsumer(
            full_name(TICKET_LIFECYCLE.name, PREFIX),
            bootstrap_servers=KAFKA,
            auto_offset_reset="earliest",
            group_id=None,
        )

    async def __aenter__(self) -> "TopicReader":
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def until(self, event_ids: set[str], *, total: int) -> None:
        async with asyncio.timeout(60):
            while not (event_ids <= set(self.seen) and sum(self.seen[e] for e in event_ids) >= total):
                for records in (await self._consumer.getmany(timeout_ms=300)).values():
                    for record in records:
                        self.seen[orjson.loads(record.value)["id"]] += 1


async def counting_consumer(pool: PgPool, name: str, producer: EventProducer) -> EventConsumer:
    """A downstream consumer (as router is) whose effect is one row per event it applies."""
    await migrate(pool, "downstream", None)
    await pool.execute("CREATE TABLE effects (ticket_id text NOT NULL, event_id text NOT NULL)")

    async def apply(conn: Conn, event: CloudEvent) -> None:
        await conn.execute("INSERT INTO effects (ticket_id, event_id) VALUES ($1, $2)", event.subject, event.id)

    return EventConsumer(
        name=name,
        topics=[TICKET_LIFECYCLE.name],
        handler=apply,
        pool=pool,
        producer=producer,
        bootstrap=KAFKA,
        topic_prefix=PREFIX,
    )


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def accept_tickets(settings: IntakeSettings) -> list[str]:
    """Tickets accepted through the API of an intake whose relay is not running: committed, not published."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            login = await client.post(
                "/api/v1/auth/token", data={"username": "calltaker", "password": "demo-calltaker"}
            )
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            ticket_ids = []
            for i in range(TICKETS):
                created = await client.post("/api/v1/tickets", json={**TICKET, "description": f"崩溃测试 第{i}件"})
                assert created.status_code == 201
                ticket_ids.append(created.json()["id"])
    return ticket_ids


async def kill_relay_between_publish_and_mark(admin: Conn, locker: Conn, topic: TopicReader, log: Path) -> None:
    """Lets the relay mark batch 1 and publish batch 2, then SIGKILLs it while it waits to mark batch 2."""
    rows = await admin.fetch("SELECT id, event_id FROM outbox ORDER BY id")
    lock = locker.transaction()
    await lock.start()
    await locker.execute("SELECT 1 FROM outbox WHERE id >= $1 FOR UPDATE", rows[BATCH]["id"])
    relay = start_relay(log)
    try:
        await topic.until({str(r["event_id"]) for r in rows[: 2 * BATCH]}, total=2 * BATCH)  # on the broker...
        await eventually(relay_blocked_on_marking, 30)  # ...and not marked
    finally:
        relay.send_signal(signal.SIGKILL)
        relay.wait()
    assert relay.returncode == -signal.SIGKILL
    await lock.rollback()


async def applied_once(ticket_ids: list[str]) -> None:
    """A consumer de-duplicating by event id (the inbox) applies each ticket's event exactly once."""
    name = f"downstream-{uuid.uuid4().hex[:6]}"
    pool = await create_pool(CRASH_DSN, "downstream", min_size=1, max_size=3)
    dead_letters = EventProducer(KAFKA, PREFIX, client_id=name)
    await dead_letters.start()
    consumer = await counting_consumer(pool, name, dead_letters)
    running = asyncio.create_task(consumer.run())

    async def all_read() -> bool:
        applied = EVENTS_CONSUMED.labels(name, "applied")._value.get()
        return bool(applied >= TICKETS and EVENTS_CONSUMED.labels(name, "duplicate")._value.get() >= BATCH)

    try:
        await eventually(all_read, 60)
        effects = Counter(r["ticket_id"] for r in await pool.fetch("SELECT ticket_id FROM effects"))
        assert effects == dict.fromkeys(ticket_ids, 1)
        assert EVENTS_CONSUMED.labels(name, "duplicate")._value.get() == BATCH
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await dead_letters.stop()
        await pool.close()


async def test_relay_killed_between_publish_and_mark_loses_nothing(crash_database: str, tmp_path: Path) -> None:
    settings = IntakeSettings(
        database_url=crash_database, topic_prefix=PREFIX, outbox_relay_in_process=False, outbox_batch=BATCH
    )
    ticket_ids = await accept_tickets(settings)
    admin = await asyncpg.connect(crash_database, server_settings={"search_path": "intake"})
    locker = await asyncpg.connect(crash_database, server_settings={"search_path": "intake"})
    try:
        rows = await admin.fetch("SELECT event_id, key, published_at FROM outbox ORDER BY id")
        assert [r["key"] for r in rows] == ticket_ids  # one committed event per accepted ticket
        assert all(r["published_at"] is None for r in rows)
        event_ids = [str(r["event_id"]) for r in rows]
        second, rest = event_ids[BATCH : 2 * BATCH], event_ids[2 * BATCH :]
        log = tmp_path / "relay.log"
        async with TopicReader() as topic:
            await kill_relay_between_publish_and_mark(admin, locker, topic, log)
            # FOR UPDATE waits for the dead relay's transaction to roll back, then reads what it left.
            async with locker.transaction():
                left = await locker.fetch("SELECT published_at FROM outbox ORDER BY id FOR UPDATE")
            assert [r["published_at"] is not None for r in left] == [True] * BATCH + [False] * (TICKETS - BATCH)
            assert not set(rest) & set(topic.seen)  # batch 3 never reached the broker

            restarted = start_relay(log)
            try:

                async def all_marked() -> bool:
                    return not await admin.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

                await eventually(all_marked, 60)
            finally:
                restarted.send_signal(signal.SIGKILL)
                restarted.wait()
            await topic.until(set(event_ids), total=TICKETS + BATCH)
            # At least once on the wire: batch 2 twice (published, not marked, published again), others once.
            assert {e: topic.seen[e] for e in event_ids} == {e: 2 if e in second else 1 for e in event_ids}
    finally:
        await admin.close()
        await locker.close()
    await applied_once(ticket_ids)
