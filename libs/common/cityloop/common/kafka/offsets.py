"""Carrying consumer groups' positions over to the group that replaces them (kafka/consumer.py ``Part``:
handlers that read a topic in groups of their own, now parts of one group)."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def seed_from(
    bootstrap: str,
    options: Mapping[str, Any],
    group: str,
    earlier: Sequence[str],
    topics: Collection[str],
) -> dict[TopicPartition, int]:
    """If ``group`` has committed nothing on ``topics`` yet and each of the ``earlier`` groups has, commit for
    ``group`` the lowest of their offsets per partition: it starts where the slowest of them stopped (what
    lies between, the parts' inbox rows apply once per part) instead of reading the topics' whole retention
    again. The offsets committed ({} when there was nothing to do)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        if _on(await admin.list_consumer_group_offsets(group), topics):
            return {}
        positions = [_on(await admin.list_consumer_group_offsets(g), topics) for g in earlier]
    finally:
        await admin.close()
    if not positions or not all(positions):
        return {}  # a group that never committed (a new deployment): nothing to carry over
    shared = set.intersection(*(set(p) for p in positions))
    seed = {tp: min(p[tp] for p in positions) for tp in shared}
    if not seed:
        return {}
    # A commit outside any generation, as a group's tools do: accepted while the group has no members; if
    # another replica joined first, it is refused and that replica's own position stands.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **options)
    await consumer.start()
    try:
        consumer.assign(list(seed))
        await consumer.commit(seed)
    finally:
        await consumer.stop()
    return seed


def _on(offsets: Mapping[TopicPartition, Any], topics: Collection[str]) -> dict[TopicPartition, int]:
    return {tp: meta.offset for tp, meta in offsets.items() if tp.topic in topics and meta.offset >= 0}
