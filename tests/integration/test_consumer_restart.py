"""A consumer that lost its group (a commit refused after a rebalance: too slow, paused past
max.poll.interval, a broker restart) goes on, and a consumer worker restarted after a crash consumes
again. Found by the fault harness (tests/chaos/): feedback's consumers died for good on the first, then
failed "Did you call `start` twice?" on every restart while /readyz said ok."""

import asyncio
import contextlib
from typing import Any

import pytest
from aiokafka.errors import CommitFailedError

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer, dlq_name
from cityloop.common.topics import TopicSpec, ensure_topics
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop


async def _consumer(loop: Loop, name: str, seen: list[str]) -> EventConsumer:
    """A consumer of a topic of its own (named after it; the contract check reads only the public topics)."""
    runtime = loop.runtime("feedback")
    topic = f"{name}.in"
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(topic, 1), TopicSpec(dlq_name(topic), 1)])

    async def handler(_conn: Conn, event: CloudEvent) -> None:
        seen.append(event.id)

    return EventConsumer(
        name=name,
        topics=[topic],
        handler=handler,
        pool=runtime.pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
    )


async def _send_and_see(loop: Loop, consumer: EventConsumer, seen: list[str], running: "asyncio.Task[None]") -> str:
    event = CloudEvent(type="test.consumer-restart", source="/test", subject="T-restart", data={})
    await loop.runtime("feedback").producer.publish(f"{consumer.name}.in", event)
    async with asyncio.timeout(60):
        while event.id not in seen:
            assert not running.done(), running.exception()
            await asyncio.sleep(0.1)
    return event.id


async def _stop(running: "asyncio.Task[None]") -> None:
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def test_a_consumer_worker_restarted_after_a_crash_consumes_again(loop: Loop) -> None:
    seen: list[str] = []
    consumer = await _consumer(loop, "test.consumer-restart", seen)
    running = asyncio.create_task(consumer.run())
    first = await _send_and_see(loop, consumer, seen, running)
    await _stop(running)  # the worker ended (as after a crash): its client is stopped
    running = asyncio.create_task(consumer.run())  # what ServiceRuntime._supervise does next
    try:
        second = await _send_and_see(loop, consumer, seen, running)
    finally:
        await _stop(running)
    assert seen == [first, second]


async def test_a_commit_refused_after_a_rebalance_does_not_end_the_consumer(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    consumer = await _consumer(loop, "test.consumer-commit-lost", seen)
    client = consumer._consumer
    commit = client.commit
    refused: list[Any] = []

    async def refuse_first(offsets: Any = None) -> None:
        if not refused:
            refused.append(offsets)
            raise CommitFailedError("the group rebalanced and assigned the partitions to another member")
        await commit(offsets)

    monkeypatch.setattr(client, "commit", refuse_first)
    running = asyncio.create_task(consumer.run())
    try:
        first = await _send_and_see(loop, consumer, seen, running)
        second = await _send_and_see(loop, consumer, seen, running)
    finally:
        await _stop(running)
    assert len(refused) == 1
    assert seen == [first, second]
