"""The one way CityLoop writes to Kafka: acks from all replicas, idempotence on, CloudEvents headers."""

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer

from cityloop.common.envelope import CONTENT_TYPE, CloudEvent
from cityloop.common.topics import full_name

Headers = list[tuple[str, bytes]]


class EventProducer:
    def __init__(
        self, bootstrap: str, topic_prefix: str, *, client_id: str, options: Mapping[str, Any] | None = None
    ) -> None:
        self.topic_prefix = topic_prefix
        # aiokafka's defaults are acks=1 and no idempotence: weaker than we promise (notes-kafka.md).
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            compression_type=None,
            **(options or {}),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send_raw(
        self, topic: str, payload: bytes, *, key: str | None, headers: Headers | None = None
    ) -> "asyncio.Future[Any]":
        """Queue one message; the returned future resolves once the broker acknowledged it."""
        all_headers = [("content-type", CONTENT_TYPE.encode()), *(headers or [])]
        future: asyncio.Future[Any] = await self._producer.send(
            full_name(topic, self.topic_prefix),
            value=payload,
            key=key.encode() if key is not None else None,
            headers=all_headers,
        )
        return future

    async def publish(self, topic: str, event: CloudEvent, *, headers: Headers | None = None) -> None:
        """Send and wait for the acknowledgement. Keyed by the ticket id (the event's subject)."""
        future = await self.send_raw(topic, event.to_bytes(), key=event.subject, headers=headers)
        await future

    async def check(self, topic: str) -> None:
        """Readiness: the broker answers metadata for ``topic``."""
        partitions = await self._producer.partitions_for(full_name(topic, self.topic_prefix))
        if not partitions:
            raise RuntimeError(f"topic {full_name(topic, self.topic_prefix)} has no partitions")
