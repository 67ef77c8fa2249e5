"""The one way CityLoop writes to Kafka: acks from all replicas, idempotence on, CloudEvents headers."""

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from cityloop.common.envelope import CONTENT_TYPE, CloudEvent
from cityloop.common.topics import full_name

Headers = list[tuple[str, bytes]]
#: (logical topic, payload, key) of one message for ``send_many``.
Message = tuple[str, bytes, str | None]
#: Largest record batch the producer builds (see EventProducer).
MAX_BATCH_BYTES = 512 * 1024


class EventProducer:
    def __init__(
        self, bootstrap: str, topic_prefix: str, *, client_id: str, options: Mapping[str, Any] | None = None
    ) -> None:
        self.topic_prefix = topic_prefix
        # aiokafka's defaults are acks=1 and no idempotence: weaker than we promise.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            compression_type=None,
            # aiokafka's default record batch is 16 KiB, about a dozen events: a bulk publish (an emergency
            # switch, ~550,000 events on five single-partition topics) then waited one broker round trip
            # per dozen events per partition (a partition has one batch in flight). Below the broker's
            # 1 MiB message.max.bytes; a batch grows only as records arrive, so small traffic costs nothing.
            max_batch_size=MAX_BATCH_BYTES,
            **(options or {}),
        )
        # The producer's own default, used by send_many to place records exactly where send() would.
        self._partitioner = DefaultPartitioner()

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

    async def send_many(self, messages: Sequence[Message]) -> "list[asyncio.Future[Any]]":
        """Queue many messages as whole record batches, in order per partition; the futures resolve once
        the broker acknowledged. Same placement and headers as ``send_raw``, a fraction of its cost per
        message (for the outbox relay, which moves thousands a second)."""
        headers = [("content-type", CONTENT_TYPE.encode())]
        partitions: dict[str, list[int]] = {}
        batches: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        for topic, payload, key in messages:
            name = full_name(topic, self.topic_prefix)
            if name not in partitions:
                partitions[name] = sorted(await self._producer.partitions_for(name))
            key_bytes = key.encode() if key is not None else None
            choices = partitions[name]
            # One partition (every department's task topic): nothing to hash. aiokafka's murmur2 is pure
            # Python and was the relay's largest cost per message in a bulk publish.
            partition = choices[0] if len(choices) == 1 else self._partitioner(key_bytes, choices, choices)
            batch = batches.get((name, partition))
            if batch is None or batch.append(timestamp=None, key=key_bytes, value=payload, headers=headers) is None:
                if batch is not None:  # full: send it, start the next one for this partition
                    futures.append(await self._producer.send_batch(batch, name, partition=partition))
                batch = batches[(name, partition)] = self._producer.create_batch()
                if batch.append(timestamp=None, key=key_bytes, value=payload, headers=headers) is None:
                    raise ValueError(f"a message for {name} is larger than a record batch")
        for (name, partition), batch in batches.items():
            futures.append(await self._producer.send_batch(batch, name, partition=partition))
        return futures

    async def publish(self, topic: str, event: CloudEvent, *, headers: Headers | None = None) -> None:
        """Send and wait for the acknowledgement. Keyed by the ticket id (the event's subject)."""
        future = await self.send_raw(topic, event.to_bytes(), key=event.subject, headers=headers)
        await future

    async def check(self, topic: str) -> None:
        """Readiness: the broker answers a metadata request now and knows ``topic``. ``partitions_for``
        alone answers from the client's cache, which still holds the topic while the broker is away."""
        partitions = await self._producer.partitions_for(full_name(topic, self.topic_prefix))
        if not partitions:
            raise RuntimeError(f"topic {full_name(topic, self.topic_prefix)} has no partitions")
        if not await self._producer.client.force_metadata_update():
            raise RuntimeError("no broker answered a metadata request")
