"""An event that breaks its type's schema goes to the DLQ at once, with the field named, and is not retried."""

import asyncio
import contextlib

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import Dispatched
from cityloop.common.contract.parsing import parse_lifecycle
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer, dlq_name
from cityloop.common.topics import TopicSpec, ensure_topics
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.dlq_support import by_event_id, dead_letters

# A topic of this test's own: the contract check of the end-to-end events reads only the public ones.
TOPIC = "contract-check.in"


async def test_a_schema_error_is_dead_lettered_without_retries_naming_the_field(loop: Loop) -> None:
    runtime = loop.runtime("feedback")
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(TOPIC, 1), TopicSpec(dlq_name(TOPIC), 1)])
    attempts: list[str] = []

    async def handler(_conn: Conn, event: CloudEvent) -> None:
        attempts.append(event.id)
        parse_lifecycle(event, Dispatched)

    consumer = EventConsumer(
        name="test.contract-check",
        topics=[TOPIC],
        handler=handler,
        pool=runtime.pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
    )
    detail = Dispatched(
        dept_code="pd-sanitation", assignment_id="A-1", category="sanitation.garbage", urgency="normal"
    ).model_dump(mode="json")
    del detail["assignment_id"]
    broken = CloudEvent(
        type=types.TICKET_DISPATCHED,
        source="/test",
        subject="T-contract",
        data={"ticket_id": "T-contract", "status": "dispatched", "actor": "t", "summary": "s", "detail": detail},
    )
    running = asyncio.create_task(consumer.run())
    try:
        await runtime.producer.publish(TOPIC, broken)
        dead = by_event_id(await dead_letters(dlq_name(TOPIC), lambda records: broken.id in by_event_id(records)))
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    headers = dict(dead[broken.id].headers)
    assert headers["cityloop-dlq-reason"] == b"schema: detail.assignment_id: Field required"
    assert headers["cityloop-dlq-event-id"] == broken.id.encode()
    assert attempts == [broken.id]
