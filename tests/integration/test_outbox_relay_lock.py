"""The outbox relay's lock is per schema: the relays of two services (two schemas, one database) publish at
the same time, while two relays of one service still take turns (which keeps each ticket's events in order).
"""

from collections.abc import AsyncIterator

import pytest

from cityloop.common import outbox
from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.outbox import OutboxRelay
from tests.conftest import KAFKA, TEST_DB, TOPIC_PREFIX
from tests.databases import scratch_database


@pytest.fixture
async def pools(database: str) -> AsyncIterator[tuple[PgPool, PgPool]]:
    async with scratch_database(f"{TEST_DB}_relay_lock") as dsn:
        first = await create_pool(dsn, "service_a", min_size=1, max_size=4)
        second = await create_pool(dsn, "service_b", min_size=1, max_size=4)
        try:
            await migrate(first, "service_a", None)
            await migrate(second, "service_b", None)
            yield first, second
        finally:
            await first.close()
            await second.close()


async def pending(pool: PgPool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def test_relays_of_two_schemas_hold_their_turns_together_relays_of_one_schema_take_turns(
    pools: tuple[PgPool, PgPool],
) -> None:
    pool_a, pool_b = pools
    # Never started: the relays below stop at the lock, before anything would be sent.
    producer = EventProducer(KAFKA, TOPIC_PREFIX, client_id="test-relay-lock")
    relay_a = OutboxRelay(pool_a, producer, schema="service_a")
    second_relay_a = OutboxRelay(pool_a, producer, schema="service_a")
    relay_b = OutboxRelay(pool_b, producer, schema="service_b")
    async with pool_a.acquire() as conn, conn.transaction():
        event = CloudEvent(type="cityloop.test.relay_lock", source="/tests", subject="T-a", data={"n": 1})
        await outbox.enqueue(conn, "relay-lock.events", event)

    # relay_a is mid-batch: it holds its turn in an open transaction.
    async with pool_a.acquire() as busy, busy.transaction():
        assert await relay_a.take_turn(busy)
        # Another service's relay holds its own turn at the same time.
        async with pool_b.acquire() as conn, conn.transaction():
            assert await relay_b.take_turn(conn)
            # A second relay of the same schema does not get one, so it publishes nothing, the row waits.
            async with pool_a.acquire() as other, other.transaction():
                assert not await second_relay_a.take_turn(other)
            assert await second_relay_a.publish_once() == 0
            assert await pending(pool_a) == 1
    # relay_a's batch ended: the second relay of service_a gets its turn now.
    async with pool_a.acquire() as conn, conn.transaction():
        assert await second_relay_a.take_turn(conn)
