"""Following ``control.mode`` into an in-memory view of the emergencies, for every service that needs the
active set (router to route, sla for clocks, feedback to score apart).

The topic is the source of truth, memory only a copy: ``load`` reads the compacted topic from its
beginning to its end before it returns (so a service that awaits it in its start-up serves nothing
before it knows every emergency in force), then ``follow`` (a background task) keeps up with it. No
consumer group: every process reads the whole topic itself and never commits offsets.

    view = ModeView(settings.kafka_bootstrap, settings.topic_prefix, options=client_options(settings))
    runtime.on_start(view.load)
    runtime.background("modes", view.follow)
"""

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from cityloop.common.contract import types
from cityloop.common.contract.emergencies import Emergency
from cityloop.common.envelope import CloudEvent, EnvelopeError
from cityloop.common.topics import CONTROL_MODE, full_name

log = structlog.get_logger(__name__)

MODE_TYPES = frozenset({types.MODE_EMERGENCY_DECLARED, types.MODE_EMERGENCY_UPDATED, types.MODE_EMERGENCY_STOOD_DOWN})

Listener = Callable[[CloudEvent], None]


class ModeView:
    """Every emergency ever declared (stood-down ones too, until compaction drops nothing: they keep their
    final state), by id; ``active()`` those in force. Other event types on the topic (proposals) go to
    ``listeners`` untouched."""

    def __init__(self, bootstrap: str, prefix: str, *, options: Mapping[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap
        self._topic = full_name(CONTROL_MODE.name, prefix)
        self._options = dict(options or {})
        self._emergencies: dict[str, Emergency] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self.listeners: list[Listener] = []
        self.loaded = asyncio.Event()

    # ------------------------------------------------------------------ reading

    def active(self) -> tuple[Emergency, ...]:
        return tuple(e for e in self._emergencies.values() if e.active)

    def get(self, emergency_id: str) -> Emergency | None:
        return self._emergencies.get(emergency_id)

    def all(self) -> tuple[Emergency, ...]:
        return tuple(self._emergencies.values())

    def apply(self, emergency: Emergency) -> bool:
        """Keep ``emergency`` unless a later version is known; True when it changed the view. The producer
        calls this with its own committed change, so it routes by it before the topic echoes it."""
        known = self._emergencies.get(emergency.id)
        if known is not None and known.version >= emergency.version:
            return False
        self._emergencies[emergency.id] = emergency
        return True

    def restore(self, emergency_id: str, previous: Emergency | None) -> None:
        """Undo an ``apply`` whose transaction did not commit: back to ``previous`` (None: unknown)."""
        if previous is None:
            self._emergencies.pop(emergency_id, None)
        else:
            self._emergencies[emergency_id] = previous

    def on_event(self, event: CloudEvent) -> None:
        if event.type in MODE_TYPES:
            try:
                self.apply(Emergency.model_validate(event.data))
            except ValidationError as exc:
                log.warning("mode.unreadable", event_id=event.id, problem=str(exc))
                return
        for listener in self.listeners:
            listener(event)

    # ------------------------------------------------------------------ following the topic

    async def load(self) -> None:
        """Read the topic from its beginning to its end; returns once the view is complete."""
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5_000,
            **self._options,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            # The registry declares its partitions (topics.py); the runtime created it before this runs.
            partitions = [TopicPartition(self._topic, p) for p in range(CONTROL_MODE.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await self._ends(consumer, partitions)
            while not await self._caught_up(consumer, ends):
                await self._poll(consumer)
        except BaseException:
            await consumer.stop()
            self._consumer = None
            raise
        self.loaded.set()
        log.info("mode.loaded", emergencies=len(self._emergencies), active=len(self.active()))

    @staticmethod
    async def _ends(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        # A busy broker may take minutes to elect the leader of a brand-new topic: wait, never serve a
        # view that was not read to the end.
        while True:
            try:
                ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
                return ends
            except KafkaError as exc:
                log.warning("mode.waiting_for_topic", problem=repr(exc))
                await asyncio.sleep(1)

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        batches = await consumer.getmany(timeout_ms=200, max_records=500)
        for records in batches.values():
            for record in records:
                try:
                    event = CloudEvent.from_bytes(record.value)
                except EnvelopeError as exc:
                    log.warning("mode.not_an_event", offset=record.offset, problem=str(exc))
                    continue
                self.on_event(event)

    async def follow(self) -> None:
        """Keep following the topic (``load`` first if needed); run it as a background task. On the way
        out the consumer closes, so a restarted follow reads the topic again from its beginning."""
        await self.load()
        consumer = self._consumer
        assert consumer is not None
        try:
            while True:
                await self._poll(consumer)
        finally:
            self._consumer = None
            with contextlib.suppress(Exception):
                await consumer.stop()
