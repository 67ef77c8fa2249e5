"""One consumer group carrying several parts (EventConsumer parts=, as feedback's feedback.lifecycle does):
each part applies the events it takes exactly once under its own inbox name, including the events it had
applied in a group of its own before (so parts can move between groups), and an event one part refuses
goes to the DLQ with none of the parts' effects. A new group of parts starts where the parts' own groups had
stopped (kafka/offsets.py), not at the topic's beginning."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer, Part, Refused, dlq_name
from cityloop.common.topics import TopicSpec, ensure_topics
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.consumer_support import claimed, running, until_claimed
from tests.integration.dlq_support import Records, dead_letters

TOPIC = "test.consumer-parts.in"


async def test_parts_share_a_group_and_each_applies_once(loop: Loop) -> None:
    runtime = loop.runtime("feedback")
    run = uuid.uuid4().hex[:8]
    part_a, part_b = f"test.parts-{run}.a", f"test.parts-{run}.b"
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(TOPIC, 3), TopicSpec(dlq_name(TOPIC), 1)])

    def event(type_: str, n: int, **data: object) -> CloudEvent:
        return CloudEvent(type=type_, source="/test", subject=f"T-{run}-{n % 7}", data={"n": n, **data})

    a_events = [event("test.a", n) for n in range(30)]
    b_events = [event("test.b", n, skip=n % 3 == 0) for n in range(30)]
    nobody = [event("test.c", n) for n in range(10)]
    poison = event("test.b", 99, poison=True)
    events = [e for trio in zip(a_events, b_events, nobody * 3, strict=True) for e in trio] + [poison]
    # The first five test.a events were applied by part a while it was a group of its own.
    earlier = [e.id for e in a_events[:5]]
    await runtime.pool.execute("INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])", part_a, earlier)
    await asyncio.gather(*await runtime.producer.send_many([(TOPIC, e.to_bytes(), e.subject) for e in events]))

    ran: dict[str, set[str]] = {part_a: set(), part_b: set()}

    async def apply_a(_conn: Conn, e: CloudEvent) -> None:
        ran[part_a].add(e.id)

    async def apply_b(_conn: Conn, e: CloudEvent) -> None:
        if e.data.get("poison"):
            raise Refused("refused by part b")
        ran[part_b].add(e.id)

    consumer = EventConsumer(
        name=f"test.parts-{run}",
        topics=[TOPIC],
        parts=[
            Part(part_a, apply_a, types={"test.a"}),
            # b takes both types, but not the ones its wants passes over.
            Part(part_b, apply_b, lambda e: not e.data.get("skip"), types={"test.a", "test.b"}),
        ],
        pool=runtime.pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
        batch_size=8,
    )
    want_a = sorted(e.id for e in a_events)
    want_b = sorted([e.id for e in a_events] + [e.id for e in b_events if not e.data["skip"]])
    async with running(consumer) as task:
        await until_claimed(runtime.pool, task, {part_a: want_a, part_b: want_b})
        dead = await dead_letters(dlq_name(TOPIC), lambda records: bool(_ids(records) & {poison.id}))

    # Part a never ran again for what it had applied before; every other event it takes, it ran.
    assert ran[part_a] == set(want_a) - set(earlier)
    assert ran[part_b] == set(want_b)
    # Nothing is claimed under the group's own name, and nothing for the events no part takes.
    assert await claimed(runtime.pool, consumer.name) == []
    assert poison.id in _ids(dead)
    assert poison.id not in ran[part_b]


def _ids(records: Records) -> set[str]:
    return {CloudEvent.from_bytes(r.value or b"").id for r in records}


async def test_a_new_group_of_parts_starts_where_their_own_groups_stopped(loop: Loop) -> None:
    runtime = loop.runtime("feedback")
    run = uuid.uuid4().hex[:8]
    topic = f"test.consumer-parts.{run}"
    part_a, part_b = f"test.parts-{run}.a", f"test.parts-{run}.b"
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(topic, 1), TopicSpec(dlq_name(topic), 1)])
    earlier = [CloudEvent(type="test.a", source="/test", subject="T", data={"n": n}) for n in range(10)]
    # On the topic (acknowledged) before the former groups commit after them.
    await asyncio.gather(*await runtime.producer.send_many([(topic, e.to_bytes(), e.subject) for e in earlier]))
    # In their own groups, a had applied all ten and committed after them; b only six, and committed after six.
    # The inbox rows of the first six are gone (pruned, housekeeping.py): read again, they would apply again.
    await _commit(f"{TOPIC_PREFIX}cityloop.{part_a}", topic, 10)
    await _commit(f"{TOPIC_PREFIX}cityloop.{part_b}", topic, 6)
    await runtime.pool.execute(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])", part_a, [e.id for e in earlier[6:]]
    )
    later = [CloudEvent(type="test.a", source="/test", subject="T", data={"n": n}) for n in range(10, 14)]
    await asyncio.gather(*await runtime.producer.send_many([(topic, e.to_bytes(), e.subject) for e in later]))

    ran: dict[str, list[str]] = {part_a: [], part_b: []}

    def recorder(part: str) -> Callable[[Conn, CloudEvent], Awaitable[None]]:
        async def apply(_conn: Conn, e: CloudEvent) -> None:
            ran[part].append(e.id)

        return apply

    consumer = EventConsumer(
        name=f"test.parts-{run}",
        topics=[topic],
        parts=[Part(part_a, recorder(part_a)), Part(part_b, recorder(part_b))],
        pool=runtime.pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
    )
    since_six = sorted(e.id for e in earlier[6:] + later)
    async with running(consumer) as task:
        await until_claimed(runtime.pool, task, {part_a: since_six, part_b: since_six})
    # The group read from offset 6 (the slower group's position), not from 0: a saw 6-9 again and left them
    # (its inbox), b applied them; the first six were not read again (from 0, both parts would apply them).
    assert ran[part_a] == [e.id for e in later]
    assert ran[part_b] == [e.id for e in earlier[6:] + later]


async def _commit(group: str, topic: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(f"{TOPIC_PREFIX}{topic}", 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()
