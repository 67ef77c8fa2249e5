"""Reading a DLQ from its start as an operator would, for tests that expect something to land there."""

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from tests.conftest import KAFKA, TOPIC_PREFIX

Records = list[ConsumerRecord[bytes, bytes]]


async def dead_letters(topic: str, until: Callable[[Records], bool], *, seconds: float = 30) -> Records:
    """Every record of ``topic`` (a logical DLQ name) from its start, read until ``until`` holds for them.
    Other tests' poison messages share the DLQs of shared topics: pick yours by key or event-id header."""
    dlq = AIOKafkaConsumer(
        f"{TOPIC_PREFIX}{topic}", bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None
    )
    await dlq.start()
    records: Records = []
    try:
        async with asyncio.timeout(seconds):
            while not until(records):
                for batch in (await dlq.getmany(timeout_ms=500)).values():
                    records += batch
    finally:
        await dlq.stop()
    return records


def by_event_id(records: Records) -> dict[str, ConsumerRecord[bytes, bytes]]:
    """The records that carry the DLQ's event-id header (a record too broken to parse has none), by that id."""
    found = {}
    for record in records:
        event_id = dict(record.headers).get("cityloop-dlq-event-id")
        if event_id is not None:
            found[event_id.decode()] = record
    return found
