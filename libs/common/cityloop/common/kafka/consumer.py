"""Consuming CloudEvents so that each one takes effect exactly once.

For every message: parse the envelope (a broken one goes to the DLQ with the reason), then in ONE
database transaction claim the event id in the inbox and apply the handler. Up to ``batch_size`` events of
a partition share that transaction (one BEGIN and COMMIT for all, each event's inbox row in it); if any of
them fails, the transaction rolls back and the same events are taken one by one as below. Offsets are
committed only after the batch's transactions committed, so a crash redelivers and the inbox turns the
repeat into a no-op. A handler refuses an event by raising ``Refused``: it goes to the DLQ, nothing changes. An event
that does not match its type's schema (``SchemaError`` from contract/parsing.py) goes to the DLQ at once
with the field named: retrying cannot mend it.

An outage (kafka/failures.py sorts the errors) is waited out on the SAME event, with capped exponential
backoff and no limit, so valid events are never dead-lettered by a database restart and per-key order
holds. While waiting, every assigned partition is paused and ``getmany`` keeps being called (it returns
nothing for paused partitions): that keeps the member inside ``max_poll_interval_ms`` so a long outage does
not turn into a rebalance loop (aiokafka issue #848). ``stalled`` says why, for ``/readyz``. Any other
unexpected exception (a bug) gets a few attempts, then the DLQ.

One group can carry several ``Part``s, each with its own inbox name: the topic is fetched and each event
parsed once for all of them, and their effects share the transaction, while each part still applies an
event exactly once under its own name (so parts can move between groups without a repeat).
"""

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from prometheus_client import Counter, Histogram

from cityloop.common import inbox
from cityloop.common.contract.parsing import SchemaError
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.envelope import CloudEvent, EnvelopeError, peek_type
from cityloop.common.kafka import offsets
from cityloop.common.kafka.failures import Failure, backoff, classify
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

#: How often a busy consumer commits its offsets (seconds): one request per interval, not per poll.
COMMIT_INTERVAL = 0.25

Handler = Callable[[Conn, CloudEvent], Awaitable[None]]
#: A handler also told the topic the event came from (its logical name, without the deployment's prefix),
#: for topics whose name says who wrote them (``dept.<code>.updates``).
SourcedHandler = Callable[[Conn, CloudEvent, str], Awaitable[None]]
#: Says whether the handler wants an event at all; others are passed over without a transaction.
Wants = Callable[[CloudEvent], bool]


@dataclass(frozen=True)
class Part:
    """One handler of a consumer group that several share (``EventConsumer(parts=...)``). ``name`` is its
    inbox name; ``wants`` and ``types`` pick its events as for a group of its own."""

    name: str
    handler: Handler
    wants: Wants | None = None
    types: Collection[str] | None = None


@dataclass(frozen=True)
class _Taker:
    name: str
    handler: SourcedHandler
    wants: Wants | None
    types: frozenset[str] | None

    def takes(self, event: CloudEvent) -> bool:
        return (self.types is None or event.type in self.types) and (self.wants is None or self.wants(event))


class Refused(Exception):
    """The event is well-formed but must not be applied (e.g. a department that does not hold the task)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


class EventConsumer:
    """Runs ``handler`` for every event on ``topics`` (logical names) within consumer group ``name``.

    Instead of ``topics``, ``pattern`` (a regular expression over logical names) subscribes to every
    matching topic, present and future: a topic created later is found at the next metadata refresh (a few
    seconds) and read from its beginning. ``sourced_handler`` instead of ``handler`` is told each event's
    topic; ``dlq`` maps a logical topic to the DLQ its refused events go to (default ``<topic>.dlq``).
    ``parts`` instead of a handler: several handlers sharing the group (see ``Part``)."""

    def __init__(
        self,
        *,
        name: str,
        topics: Sequence[str] = (),
        handler: Handler | None = None,
        pool: PgPool,
        producer: EventProducer,
        bootstrap: str,
        topic_prefix: str,
        group_prefix: str = "cityloop",
        max_attempts: int = 3,
        max_backoff_seconds: float = 30.0,
        max_message_bytes: int = 1_048_576,
        max_poll_interval_ms: int = 300_000,
        session_timeout_ms: int = 10_000,
        options: Mapping[str, Any] | None = None,
        wants: Wants | None = None,
        types: Collection[str] | None = None,
        batch_size: int = 50,
        pattern: str | None = None,
        sourced_handler: SourcedHandler | None = None,
        dlq: Callable[[str], str] | None = None,
        concurrent: bool = False,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int | None = None,
        parts: Sequence[Part] = (),
    ) -> None:
        if sum((handler is not None, sourced_handler is not None, bool(parts))) != 1:
            raise ValueError("give exactly one of handler, sourced_handler and parts")
        if parts and (wants is not None or types is not None):
            raise ValueError("with parts, each part picks its own events")
        if bool(topics) == (pattern is not None):
            raise ValueError("give exactly one of topics and pattern")
        self.name = name
        #: Events of one partition applied in one transaction (1: a transaction per event).
        self._batch_size = max(1, batch_size)
        #: Apply a poll's partitions side by side (see _settle); for handlers whose events of different
        #: keys never wait on each other's rows in a cycle (a deadlock would cost a second and a retry).
        self._concurrent = concurrent
        self._topics = [full_name(t, topic_prefix) for t in topics]
        self._pattern = f"^{re.escape(topic_prefix)}(?:{pattern})$" if pattern is not None else None
        self._prefix = topic_prefix
        self._dlq = dlq or dlq_name
        self._takers = (
            [_Taker(p.name, _ignoring_topic(p.handler), p.wants, _frozen(p.types)) for p in parts]
            if parts
            else [_Taker(name, sourced_handler or _ignoring_topic(handler), wants, _frozen(types))]
        )
        #: The only event types any part may want (None: any); others are skipped on the type alone,
        #: read from the raw bytes (envelope.peek_type) without parsing or opening a transaction.
        kinds = [t.types for t in self._takers]
        self._types = None if None in kinds else frozenset().union(*(k for k in kinds if k is not None))
        self._pool = pool
        self._producer = producer
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._max_bytes = max_message_bytes
        #: Why this consumer is waiting out an outage right now (None when it is not); read by /readyz.
        self.stalled: str | None = None
        self._paused = False
        self._client_options: dict[str, Any] = dict(
            bootstrap_servers=bootstrap,
            group_id=f"{topic_prefix}{group_prefix}.{name}",
            client_id=f"{group_prefix}.{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=max_poll_interval_ms,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=min(3_000, session_timeout_ms // 3),
            metadata_max_age_ms=5_000,
            # The broker answers a fetch once fetch_min_bytes are there or fetch_max_wait_ms passed (aiokafka's
            # defaults: 1 byte, 500 ms). On ticket.lifecycle, 1 byte meant a fetch, a poll and a transaction
            # for every few events in each of the seven groups reading it (runtime.consume busy=True).
            fetch_min_bytes=fetch_min_bytes,
            # Unless the caller says: 500 ms (aiokafka's default), and 10 s for a pattern. A pattern over every
            # department's topic is ~1,100 partitions, and every fetch request and response lists them all
            # (aiokafka has no incremental fetch sessions), in pure Python: ~13 ms of CPU per fetch whatever it
            # carries, so an idle fetch every 500 ms cost router 14 % of a core. runtime.consume_sourced also
            # waits for fuller fetches under load (CommonSettings.kafka_fetch_pattern_*).
            fetch_max_wait_ms=fetch_max_wait_ms if fetch_max_wait_ms is not None else 10_000 if pattern else 500,
            **(options or {}),
        )
        self._consumer = AIOKafkaConsumer(**self._client_options)
        self._used = False
        self._bootstrap = bootstrap
        self._options = dict(options or {})
        #: The groups the parts read in before they shared this one (kafka/offsets.py), carried over once.
        self._earlier_groups = [f"{topic_prefix}{group_prefix}.{p.name}" for p in parts if p.name != name]
        self.ready = asyncio.Event()
        self._group = f"{topic_prefix}{group_prefix}.{name}"
        self._lag_due = 0.0
        self._lag_partitions: set[TopicPartition] = set()

    async def run(self) -> None:
        # A stopped aiokafka consumer cannot start again: when the runtime restarts this worker after a
        # crash, it gets a fresh client (the old one would fail "Did you call `start` twice?" forever).
        if self._used:
            self._consumer = AIOKafkaConsumer(**self._client_options)
        elif self._earlier_groups:
            seeded = await offsets.seed_from(
                self._bootstrap, self._options, self._group, self._earlier_groups, self._topics
            )
            if seeded:
                log.info("consumer.offsets_carried_over", group=self._group, partitions=len(seeded))
        self._used = True
        if self._pattern is not None:
            self._consumer.subscribe(pattern=self._pattern)
        else:
            self._consumer.subscribe(self._topics)
        await self._consumer.start()
        # Offsets of records already applied, not yet committed: committed together at most every
        # COMMIT_INTERVAL (and at once when a poll comes back empty, and at stop). A crash or a rebalance
        # before the commit redelivers them, and the inbox turns each repeat into a no-op.
        settled: dict[TopicPartition, int] = {}
        committed_at = time.monotonic()
        try:
            while True:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=200)
                self.ready.set()
                settled.update(await self._settle(batches))
                if settled and (not batches or time.monotonic() - committed_at >= COMMIT_INTERVAL):
                    await self._commit(settled)  # one request for every partition
                    settled = {}
                    committed_at = time.monotonic()
                if time.monotonic() >= self._lag_due:
                    self._lag_due = time.monotonic() + 5.0
                    await self._measure_lag()
        finally:
            if settled:
                with contextlib.suppress(Exception):  # stopping anyway: the next owner redelivers
                    await self._commit(settled)
            await self._consumer.stop()

    async def _settle(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> dict[TopicPartition, int]:
        """Apply one poll's records; the offset to commit for each partition settled (a partition lost to
        another member while an outage was waited out is left out: it resumes there).

        With ``concurrent``, the partitions' batches first run side by side, one transaction per partition at
        a time: a key lives on one partition, so per-key order holds, and the consumer waits on the database
        once per poll instead of once per partition. Whatever did not go through as a batch is then taken
        partition after partition on the per-event path, because waiting out an outage pauses every
        partition and polls (_wait), which only one caller may do at a time."""
        settled: dict[TopicPartition, int] = {}
        resume_at = dict.fromkeys(batches, 0)
        if self._concurrent and len(batches) > 1:
            items = list(batches.items())
            done = await asyncio.gather(*(self._batches_only(records) for _, records in items))
            resume_at = {tp: n for (tp, _), n in zip(items, done, strict=True)}
        for tp, records in batches.items():
            if await self._partition(tp, records[resume_at[tp] :]):
                settled[tp] = records[-1].offset + 1
        return settled

    async def _batches_only(self, records: list[ConsumerRecord[bytes, bytes]]) -> int:
        """Apply ``records`` as batches for as long as that works; how many were settled."""
        for start in range(0, len(records), self._batch_size):
            chunk = records[start : start + self._batch_size]
            if not await self._apply_batch(TopicPartition(chunk[0].topic, chunk[0].partition), chunk):
                return start
        return len(records)

    async def _partition(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Settle one partition's records in order, ``batch_size`` to a transaction; False if ``tp`` was
        lost while an outage was waited out."""
        for start in range(0, len(records), self._batch_size):
            chunk = records[start : start + self._batch_size]
            if len(chunk) > 1 and await self._apply_batch(tp, chunk):
                continue
            # One by one: a batch of one, or a batch that failed as a whole (its transaction rolled back, so
            # nothing of it was applied): the per-event path retries, waits out outages and dead-letters.
            for record in chunk:
                if not await self._process(tp, record):
                    return False
        return True

    async def _apply_batch(self, tp: TopicPartition, chunk: list[ConsumerRecord[bytes, bytes]]) -> bool:
        """Apply ``chunk`` in ONE transaction: one BEGIN and COMMIT, and one inbox statement claiming every
        event id, for the chunk instead of for each event (no transaction at all when every event is
        skipped). False (nothing applied) if any event fails or is not a well-formed envelope within the
        size limit: the caller then takes the events one by one."""
        topic = self._logical(tp.topic)
        # (type, the event to apply, or None when it is skipped, the parts that take it)
        entries: list[tuple[str | None, CloudEvent | None, list[_Taker]]] = []
        for record in chunk:
            if len(record.value or b"") > self._max_bytes:
                return False
            peeked = self._passed_over(record)
            if peeked is not None:
                entries.append((peeked, None, []))
                continue
            try:
                event = CloudEvent.from_bytes(record.value)
            except EnvelopeError:
                return False
            takers = self._takers_of(event)
            entries.append((event.type, event if takers else None, takers))
        outcomes: list[str] = ["skipped" if wanted is None else "duplicate" for _, wanted, _ in entries]
        started = time.perf_counter()
        claims = [(taker.name, wanted.id) for _, wanted, takers in entries if wanted for taker in takers]
        if claims:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    fresh = await inbox.claim_pairs(conn, claims)
                    for i, (_, wanted, takers) in enumerate(entries):
                        if wanted is not None and await self._apply_parts(conn, wanted, takers, fresh, topic):
                            outcomes[i] = "applied"
            except Exception as exc:  # a CancelledError (shutdown) is not an Exception: it goes on up
                log.debug("batch.one_by_one", consumer=self.name, events=len(entries), error=repr(exc))
                return False
            self._recovered()
        handled = sum(1 for o in outcomes if o != "skipped")
        for (type_, _, _), outcome in zip(entries, outcomes, strict=True):
            EVENTS_CONSUMED.labels(self.name, outcome).inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, type_, outcome)
            if outcome != "skipped":
                HANDLE_SECONDS.labels(self.name).observe((time.perf_counter() - started) / handled)
        return True

    def _takers_of(self, event: CloudEvent) -> list[_Taker]:
        return [taker for taker in self._takers if taker.takes(event)]

    async def _apply_parts(
        self, conn: Conn, event: CloudEvent, takers: list[_Taker], fresh: set[tuple[str, str]], topic: str
    ) -> bool:
        """Run each of ``takers`` whose claim on ``event`` is in ``fresh`` (taken out of it: an id twice in a
        batch is applied once); True if any ran."""
        applied = False
        with structlog.contextvars.bound_contextvars(
            consumer=self.name, event_id=event.id, event_type=event.type, ticket_id=event.subject
        ):
            for taker in takers:
                if (taker.name, event.id) in fresh:
                    fresh.discard((taker.name, event.id))
                    await taker.handler(conn, event, topic)
                    applied = True
        return applied

    def _passed_over(self, record: ConsumerRecord[bytes, bytes]) -> str | None:
        """The record's type when ``types`` rules it out unparsed; None when it must be parsed."""
        if self._types is None:
            return None
        peeked = peek_type(record.value)
        return peeked if peeked is not None and peeked not in self._types else None

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit after the records took effect. If the group moved a partition to another member meanwhile
        (this one was too slow or paused past ``max_poll_interval_ms``, or the broker restarted), the commit
        is refused: the new owner redelivers those records and the inbox makes them no-ops, so this member
        carries on and rejoins, instead of the consumer dying on the error."""
        assigned = self._consumer.assignment()
        # A partition lost after its records were applied is left to its new owner (see above).
        offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:  # rebalanced away, or no longer assigned
            lost = [f"{tp.topic}/{tp.partition}" for tp in offsets]
            log.warning("event.commit_lost", partitions=lost, error=repr(exc))

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

    async def _process(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Apply, skip or dead-letter one record; False if ``tp`` was lost while an outage was waited out."""
        size = len(record.value or b"")
        if size > self._max_bytes:  # refused before parsing: a hostile payload costs no more than its read
            reason = f"message of {size} bytes exceeds the limit of {self._max_bytes}"
            return await self._dead_letter(tp, record, reason=reason, event_id=None, reason_class="envelope")
        peeked = self._passed_over(record)
        if peeked is not None:
            EVENTS_CONSUMED.labels(self.name, "skipped").inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, peeked, "skipped")
            return True
        try:
            event = CloudEvent.from_bytes(record.value)
        except EnvelopeError as exc:
            return await self._dead_letter(tp, record, reason=str(exc), event_id=None, reason_class="envelope")
        takers = self._takers_of(event)
        if not takers:
            EVENTS_CONSUMED.labels(self.name, "skipped").inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, event.type, "skipped")
            return True
        # Every log line written while this event is handled, in any module, carries its ids.
        with structlog.contextvars.bound_contextvars(
            consumer=self.name, event_id=event.id, event_type=event.type, ticket_id=event.subject
        ):
            started = time.perf_counter()
            try:
                outcome = await self._apply_until_settled(tp, event, takers)
            finally:
                self._recovered()
            if outcome is None:
                return False
            if isinstance(outcome, BaseException):
                return await self._dead_letter_failure(tp, record, event, outcome)
            HANDLE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(self.name, "applied" if outcome else "duplicate").inc()
            event_metrics.consumed(self.name, tp.topic, self._prefix, event.type, "applied" if outcome else "duplicate")
            log.debug("event.applied" if outcome else "event.duplicate")
            return True

    async def _apply_until_settled(
        self, tp: TopicPartition, event: CloudEvent, takers: list[_Taker]
    ) -> bool | Exception | None:
        """True/False once applied/duplicate; the exception if the event must be dead-lettered; None if the
        partition was lost while waiting. Outages are retried without limit, other errors a few times."""
        attempt = 0
        outage = 0
        while True:
            attempt += 1
            try:
                return await self._apply(event, self._logical(tp.topic), takers)
            except Exception as exc:  # sorted below; a CancelledError (shutdown) is not an Exception
                failure = classify(exc, refused=Refused)
                if failure in (Failure.REFUSED, Failure.SCHEMA):
                    return exc
                if failure is Failure.INFRASTRUCTURE:
                    outage += 1
                    delay = backoff(outage, cap=self._max_backoff)
                    self.stalled = f"waiting out an outage (attempt {outage}, next in {delay:.1f}s): {exc!r}"
                    log.warning("event.outage_retry", attempt=outage, retry_in=delay, error=repr(exc))
                elif attempt >= self._max_attempts:
                    log.exception("event.failed")
                    return exc
                else:
                    delay = backoff(attempt, cap=self._max_backoff)
                    log.warning("event.retry", attempt=attempt, retry_in=delay, error=repr(exc))
                if not await self._wait(tp, delay):
                    return None

    async def _wait(self, tp: TopicPartition, seconds: float) -> bool:
        """Sleep ``seconds`` with every assigned partition paused, still polling so the group keeps us;
        False if ``tp`` is no longer ours afterwards."""
        deadline = time.monotonic() + seconds
        while True:
            # Paused again on every turn: a rebalance hands partitions back unpaused.
            self._consumer.pause(*self._consumer.assignment())
            self._paused = True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            fetched = await self._consumer.getmany(timeout_ms=max(1, int(min(remaining, 1.0) * 1000)))
            for other, records in fetched.items():
                # Fetched between a rebalance and our pause: put the position back so nothing is skipped.
                self._consumer.seek(other, records[0].offset)
        return tp in self._consumer.assignment()

    def _recovered(self) -> None:
        if self.stalled is not None:
            log.info("event.outage_over")
            self.stalled = None
        if self._paused:
            self._consumer.resume(*self._consumer.assignment())
            self._paused = False

    async def _dead_letter_failure(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], event: CloudEvent, exc: Exception
    ) -> bool:
        if isinstance(exc, Refused | SchemaError):
            log.warning("event.refused", reason=exc.reason)
            cls = "schema" if isinstance(exc, SchemaError) else "refused"
            return await self._dead_letter(
                tp, record, reason=exc.reason, event_id=event.id, reason_class=cls, type_=event.type
            )
        return await self._dead_letter(
            tp,
            record,
            reason=f"handler failed: {exc!r}",
            event_id=event.id,
            reason_class="handler_error",
            type_=event.type,
        )

    async def apply(self, event: CloudEvent, topic: str = "") -> bool:
        """Apply one event (read from logical ``topic``) exactly once in each part that takes it (the only
        part of a single-handler group takes any event given here); False if it had been applied already."""
        return await self._apply(event, topic, self._takers_of(event) if len(self._takers) > 1 else self._takers)

    async def _apply(self, event: CloudEvent, topic: str, takers: list[_Taker]) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim_pairs(conn, [(taker.name, event.id) for taker in takers])
            return await self._apply_parts(conn, event, takers, fresh, topic)

    def _logical(self, topic: str) -> str:
        return topic[len(self._prefix) :] if topic.startswith(self._prefix) else topic

    async def _dead_letter(
        self,
        tp: TopicPartition,
        record: ConsumerRecord[bytes, bytes],
        *,
        reason: str,
        event_id: str | None,
        reason_class: str,
        type_: str | None = None,
    ) -> bool:
        """Park ``record`` in its topic's DLQ; a broker outage is waited out like any other (False if
        ``tp`` was lost meanwhile)."""
        logical = self._logical(tp.topic)
        headers = [
            ("cityloop-dlq-reason", reason.encode()),
            ("cityloop-dlq-consumer", self.name.encode()),
            ("cityloop-dlq-source", f"{tp.topic}/{tp.partition}/{record.offset}".encode()),
        ]
        if event_id:
            headers.append(("cityloop-dlq-event-id", event_id.encode()))
        key = record.key.decode(errors="replace") if record.key else None
        outage = 0
        try:
            while True:
                try:
                    future = await self._producer.send_raw(
                        self._dlq(logical), record.value or b"", key=key, headers=headers
                    )
                    await future
                    break
                except Exception as exc:
                    if classify(exc) is not Failure.INFRASTRUCTURE:
                        raise
                    outage += 1
                    delay = backoff(outage, cap=self._max_backoff)
                    self.stalled = f"waiting to dead-letter (attempt {outage}): {exc!r}"
                    log.warning("event.dead_letter_retry", attempt=outage, retry_in=delay, error=repr(exc))
                    if not await self._wait(tp, delay):
                        return False
        finally:
            self._recovered()
        EVENTS_CONSUMED.labels(self.name, "dead_lettered").inc()
        event_metrics.consumed(self.name, tp.topic, self._prefix, type_, "dead_lettered")
        event_metrics.dead_lettered(self.name, tp.topic, self._prefix, reason_class)
        log.warning("event.dead_lettered", consumer=self.name, reason=reason, source=tp.topic, offset=record.offset)
        return True


def _frozen(types: Collection[str] | None) -> frozenset[str] | None:
    return frozenset(types) if types is not None else None


def _ignoring_topic(handler: Handler | None) -> SourcedHandler:
    if handler is None:
        raise ValueError("a handler is required")

    async def handle(conn: Conn, event: CloudEvent, _topic: str) -> None:
        await handler(conn, event)

    return handle
