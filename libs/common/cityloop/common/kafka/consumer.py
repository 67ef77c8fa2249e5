"""Consuming CloudEvents so that each one takes effect exactly once.

For every message: parse the envelope (a broken one goes to the DLQ with the reason), then in ONE
database transaction claim the event id in the inbox and apply the handler. Offsets are committed only
after the batch's transactions committed, so a crash redelivers and the inbox turns the repeat into a
no-op. A handler refuses an event by raising ``Refused``: it goes to the DLQ, nothing changes. An event
that does not match its type's schema (``SchemaError`` from contract/parsing.py) goes to the DLQ at once
with the field named: retrying cannot mend it.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter, Histogram
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from cityloop.common import inbox
from cityloop.common.contract.parsing import SchemaError
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.envelope import CloudEvent, EnvelopeError
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.metrics import events as event_metrics
from cityloop.common.topics import full_name

log = structlog.get_logger(__name__)

EVENTS_CONSUMED = Counter(
    "cityloop_events_consumed_total", "Events read by consumers, by outcome", ["consumer", "outcome"]
)
HANDLE_SECONDS = Histogram(
    "cityloop_event_handle_seconds", "Time to apply one event, transaction included", ["consumer"]
)

Handler = Callable[[Conn, CloudEvent], Awaitable[None]]
#: Says whether the handler wants an event at all; others are passed over without a transaction.
Wants = Callable[[CloudEvent], bool]


class Refused(Exception):
    """The event is well-formed but must not be applied (e.g. a department that does not hold the task)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


class EventConsumer:
    """Runs ``handler`` for every event on ``topics`` (logical names) within consumer group ``name``."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str],
        handler: Handler,
        pool: PgPool,
        producer: EventProducer,
        bootstrap: str,
        topic_prefix: str,
        group_prefix: str = "cityloop",
        max_attempts: int = 3,
        options: Mapping[str, Any] | None = None,
        wants: Wants | None = None,
    ) -> None:
        self.name = name
        self._topics = [full_name(t, topic_prefix) for t in topics]
        self._prefix = topic_prefix
        self._handler = handler
        self._wants = wants
        self._pool = pool
        self._producer = producer
        self._max_attempts = max_attempts
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"{topic_prefix}{group_prefix}.{name}",
            client_id=f"{group_prefix}.{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            metadata_max_age_ms=5_000,
            **(options or {}),
        )
        self.ready = asyncio.Event()
        self._group = f"{topic_prefix}{group_prefix}.{name}"
        self._lag_due = 0.0
        self._lag_partitions: set[TopicPartition] = set()

    async def run(self) -> None:
        self._consumer.subscribe(self._topics)
        await self._consumer.start()
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
                self.ready.set()
                for tp, records in batches.items():
                    for record in records:
                        await self._process(tp, record)
                    await self._consumer.commit({tp: records[-1].offset + 1})
                if time.monotonic() >= self._lag_due:
                    self._lag_due = time.monotonic() + 5.0
                    await self._measure_lag()
        finally:
            await self._consumer.stop()

    async def _measure_lag(self) -> None:
        """Lag per assigned partition from what the last fetches told us (no extra broker round trip);
        every few seconds, not per message."""
        assigned = set(self._consumer.assignment())
        for tp in self._lag_partitions - assigned:  # moved to another replica: its lag is reported there
            event_metrics.forget_lag(self._group, tp.topic, self._prefix, tp.partition)
        self._lag_partitions = assigned
        for tp in assigned:
            end = self._consumer.last_stable_offset(tp)
            if end is None:
                end = self._consumer.highwater(tp)
            if end is None:
                continue
            position = await self._consumer.position(tp)
            event_metrics.lag(self._group, tp.topic, self._prefix, tp.partition, end - position)

    async def _process(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            event = CloudEvent.from_bytes(record.value)
        except EnvelopeError as exc:
            await self._dead_letter(tp, record, reason=str(exc), event_id=None, reason_class="envelope")
            return
        if self._wants is not None and not self._wants(event):
            EVENTS_CONSUMED.labels(self.name, "skipped").inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, event.type, "skipped")
            return
        # Every log line written while this event is handled, in any module, carries its ids.
        with structlog.contextvars.bound_contextvars(
            consumer=self.name, event_id=event.id, event_type=event.type, ticket_id=event.subject
        ):
            started = time.perf_counter()
            try:
                applied = await self._apply_with_retries(event)
            except (Refused, SchemaError) as exc:
                log.warning("event.refused", reason=exc.reason)
                cls = "schema" if isinstance(exc, SchemaError) else "refused"
                await self._dead_letter(
                    tp, record, reason=exc.reason, event_id=event.id, reason_class=cls, type_=event.type
                )
                return
            except Exception as exc:  # retries exhausted: park it in the DLQ rather than block the partition
                log.exception("event.failed")
                await self._dead_letter(
                    tp,
                    record,
                    reason=f"handler failed: {exc!r}",
                    event_id=event.id,
                    reason_class="handler_error",
                    type_=event.type,
                )
                return
            HANDLE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(self.name, "applied" if applied else "duplicate").inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, event.type, "applied" if applied else "duplicate")
            log.debug("event.applied" if applied else "event.duplicate")

    async def _apply_with_retries(self, event: CloudEvent) -> bool:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            # Only errors are retried: a CancelledError (shutdown) must end the consumer, not be retried.
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type((Refused, SchemaError)),
            reraise=True,
        ):
            with attempt:
                return await self.apply(event)
        raise AssertionError("unreachable: AsyncRetrying reraises")

    async def apply(self, event: CloudEvent) -> bool:
        """Apply one event exactly once; False if it had been applied already."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, self.name, event.id):
                return False
            await self._handler(conn, event)
            return True

    async def _dead_letter(
        self,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        *,
        reason: str,
        event_id: str | None,
        reason_class: str,
        type_: str | None = None,
    ) -> None:
        EVENTS_CONSUMED.labels(self.name, "dead_lettered").inc()
        event_metrics.consumed(self.name, tp.topic, self._prefix, type_, "dead_lettered")
        event_metrics.dead_lettered(self.name, tp.topic, self._prefix, reason_class)
        logical = tp.topic[len(self._prefix) :] if tp.topic.startswith(self._prefix) else tp.topic
        headers = [
            ("cityloop-dlq-reason", reason.encode()),
            ("cityloop-dlq-consumer", self.name.encode()),
            ("cityloop-dlq-source", f"{tp.topic}/{tp.partition}/{record.offset}".encode()),
        ]
        if event_id:
            headers.append(("cityloop-dlq-event-id", event_id.encode()))
        key = record.key.decode(errors="replace") if record.key else None
        future = await self._producer.send_raw(dlq_name(logical), record.value or b"", key=key, headers=headers)
        await future
        log.warning("event.dead_lettered", consumer=self.name, reason=reason, source=tp.topic, offset=record.offset)
