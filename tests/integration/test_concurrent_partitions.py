"""A consumer that applies a poll's partitions side by side (EventConsumer concurrent, as router's
router.intake does): batches of different partitions are in flight together, each key's events still take
effect in order and once, and a refused event goes to the DLQ on the one-by-one path while the rest go on."""

import asyncio
from collections import defaultdict

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer, Refused, dlq_name
from cityloop.common.topics import TopicSpec, ensure_topics
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.consumer_support import claimed, running, until_claimed
from tests.integration.dlq_support import dead_letters

TOPIC = "test.concurrent-partitions.in"
KEYS = [f"T-{k}" for k in range(12)]
PER_KEY = 6


async def test_partitions_are_applied_side_by_side_in_order_per_key(loop: Loop) -> None:
    runtime = loop.runtime("feedback")
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(TOPIC, 4), TopicSpec(dlq_name(TOPIC), 1)])
    events = [
        CloudEvent(type="test.concurrent", source="/test", subject=key, data={"seq": seq})
        for seq in range(PER_KEY)
        for key in KEYS
    ]
    poison = events[len(events) // 2]
    # Everything is on the topic before the consumer starts, so its first polls hold every partition.
    await runtime.producer.send_many([(TOPIC, e.to_bytes(), e.subject) for e in events])

    applied: dict[str, list[int]] = defaultdict(list)
    in_flight = 0
    most_in_flight = 0

    async def handler(_conn: Conn, event: CloudEvent) -> None:
        nonlocal in_flight, most_in_flight
        if event.id == poison.id:
            raise Refused("refused by the test")
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.02)  # a handler waiting on the database
        in_flight -= 1
        applied[event.subject or ""].append(event.data["seq"])

    consumer = EventConsumer(
        name="test.concurrent-partitions",
        topics=[TOPIC],
        handler=handler,
        pool=runtime.pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
        batch_size=4,
        concurrent=True,
    )
    wanted = sorted(e.id for e in events if e.id != poison.id)
    async with running(consumer) as task:
        await until_claimed(runtime.pool, task, {consumer.name: wanted})
    # Every event but the poison took effect once (its inbox row commits with it), and nothing else.
    assert await claimed(runtime.pool, consumer.name) == wanted

    poisoned_key = poison.subject or ""
    for key in KEYS:
        expected = [s for s in range(PER_KEY) if key != poisoned_key or s != poison.data["seq"]]
        # The poison's batch was rolled back and applied again one by one: its events show up twice here, and
        # the later time is the one that committed.
        assert _last_occurrences(applied[key]) == expected, key
    assert most_in_flight > 1

    dead = await dead_letters(dlq_name(TOPIC), bool)
    assert [CloudEvent.from_bytes(r.value or b"").id for r in dead] == [poison.id]


def _last_occurrences(seqs: list[int]) -> list[int]:
    last = {seq: i for i, seq in enumerate(seqs)}
    return sorted(last, key=last.__getitem__)
