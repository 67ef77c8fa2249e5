"""What every service process runs besides its own logic: the pool and migrations, the producer, the
outbox relay and the consumers, supervised; plus the ops endpoints. Used from a FastAPI lifespan."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI

from cityloop.common.db.migrate import migrate_as_owner
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.common.housekeeping import run_forever as housekeeping
from cityloop.common.kafka.connection import client_options
from cityloop.common.kafka.consumer import EventConsumer, Handler, Part, SourcedHandler, Wants
from cityloop.common.kafka.failures import Failure, classify
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.metrics.http import HttpMetrics
from cityloop.common.ops import ops_router
from cityloop.common.outbox import OutboxRelay
from cityloop.common.settings import CommonSettings
from cityloop.common.topics import (
    TICKET_LIFECYCLE,
    TopicProvisioner,
    TopicSpec,
    all_topics,
    ensure_topics,
)

log = structlog.get_logger(__name__)

#: A crashed worker's first pause before its restart, and the longest (seconds).
RESTART_FIRST = 0.5
RESTART_CAP = 30.0
#: What stop() gives each of its steps (the workers, the producer's flush, the pool) before giving up on it.
STOP_SECONDS = 10.0


class ServiceRuntime:
    def __init__(self, settings: CommonSettings, *, migrations: Path | None) -> None:
        self.settings = settings
        self._migrations = migrations
        self._pool: PgPool | None = None
        self._producer: EventProducer | None = None
        #: name -> what EventConsumer is given besides the runtime's own settings
        self._consumers: dict[str, dict[str, Any]] = {}
        self._workers: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.consumers: dict[str, EventConsumer] = {}

    @property
    def pool(self) -> PgPool:
        if self._pool is None:
            raise RuntimeError("runtime not started")
        return self._pool

    @property
    def producer(self) -> EventProducer:
        if self._producer is None:
            raise RuntimeError("runtime not started")
        return self._producer

    def consume(
        self,
        name: str,
        topics: Sequence[str],
        handler: Handler,
        *,
        wants: Wants | None = None,
        types: Collection[str] | None = None,
        concurrent: bool = False,
        busy: bool = False,
    ) -> None:
        """Register a consumer group ``name`` over ``topics``; started with the runtime. ``wants`` (optional)
        picks the events the handler cares about; the rest are skipped without touching the database.
        ``types`` (optional): the only event types it may want; the others are skipped before parsing.
        ``concurrent``: a poll's partitions are applied side by side (EventConsumer._settle).
        ``busy``: topics with a steady stream (ticket.lifecycle) are fetched in fuller batches, see
        CommonSettings.kafka_fetch_busy_min_bytes."""
        self._consumers[name] = {
            "topics": topics,
            "handler": handler,
            "wants": wants,
            "types": types,
            "concurrent": concurrent,
            **(self._busy_fetch() if busy else {}),
        }

    def _busy_fetch(self) -> dict[str, int]:
        return _fetch(self.settings.kafka_fetch_busy_min_bytes, self.settings.kafka_fetch_busy_wait_ms)

    def consume_parts(self, name: str, topics: Sequence[str], parts: Sequence[Part], *, busy: bool = False) -> None:
        """Register one consumer group ``name`` over ``topics`` for several handlers (kafka/consumer.py
        ``Part``): the topic is fetched and each event parsed once for all, each part keeping its own inbox
        name. ``busy`` as for ``consume``."""
        self._consumers[name] = {"topics": topics, "parts": parts, **(self._busy_fetch() if busy else {})}

    def consume_sourced(
        self, name: str, pattern: str, handler: SourcedHandler, *, dlq: Callable[[str], str] | None = None
    ) -> None:
        """Register a consumer group ``name`` over every topic whose logical name matches ``pattern`` (now or
        later); ``handler`` is told each event's topic, and ``dlq`` names the DLQ of a refused one."""
        s = self.settings
        self._consumers[name] = {
            "pattern": pattern,
            "sourced_handler": handler,
            "dlq": dlq,
            **_fetch(s.kafka_fetch_pattern_min_bytes, s.kafka_fetch_pattern_wait_ms),
        }

    def background(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Register a long-running coroutine (a timer loop, a scheduler); restarted if it crashes."""
        self._workers.append((name, work))

    def on_start(self, step: Callable[[], Awaitable[None]]) -> None:
        """Register a step run once the database is migrated, before any consumer starts."""
        self._startup.append(step)

    async def start(self) -> None:
        s = self.settings
        if s.migrate_at_start:
            await migrate_as_owner(s, self._migrations)
        # The service's own role from here on (db/roles.py): its schema's rows, no DDL, nothing else.
        self._pool = await create_pool(
            s.service_database_url,
            s.db_schema,
            min_size=s.db_pool_min,
            max_size=s.db_pool_max,
            wait_seconds=s.db_pool_wait_seconds,
        )
        await self.ensure_topics(all_topics())
        for step in self._startup:
            await step()
        self._producer = EventProducer(
            s.kafka_bootstrap, s.topic_prefix, client_id=f"cityloop.{s.service_name}", options=client_options(s)
        )
        await self._producer.start()
        if s.outbox_relay_in_process:
            relay = OutboxRelay(
                self._pool,
                self._producer,
                schema=s.db_schema,
                batch=s.outbox_batch,
                idle_seconds=s.outbox_idle_seconds,
                provision=TopicProvisioner.on_broker(
                    s.kafka_bootstrap,
                    s.topic_prefix,
                    replication_factor=s.kafka_replication_factor,
                    options=client_options(s),
                ).ensure,
            )
            self._spawn("outbox-relay", relay.run)
        self._spawn("outbox-backlog", OutboxRelay(self._pool, self._producer, schema=s.db_schema).measure_backlog)
        pool = self._pool
        self._spawn(
            "housekeeping",
            lambda: housekeeping(
                pool,
                outbox_days=s.outbox_retention_days,
                inbox_days=s.inbox_retention_days,
                batch=s.housekeeping_batch,
                every_seconds=s.housekeeping_interval_seconds,
            ),
        )
        for name, how in self._consumers.items():
            consumer = EventConsumer(
                name=name,
                **how,
                pool=self._pool,
                producer=self._producer,
                bootstrap=s.kafka_bootstrap,
                topic_prefix=s.topic_prefix,
                options=client_options(s),
                max_message_bytes=s.max_message_bytes,
                batch_size=s.consumer_batch,
                max_poll_interval_ms=s.kafka_max_poll_interval_ms,
                session_timeout_ms=s.kafka_session_timeout_ms,
            )
            self.consumers[name] = consumer
            self._spawn(f"consumer:{name}", consumer.run)
        for name, work in self._workers:
            self._spawn(name, work)
        log.info("service.started", service=s.service_name)

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> list[str]:
        """Create missing topics with this deployment's prefix, replication and credentials."""
        s = self.settings
        return await ensure_topics(
            s.kafka_bootstrap,
            s.topic_prefix,
            specs,
            replication_factor=s.kafka_replication_factor,
            options=client_options(s),
        )

    def _spawn(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._supervise(name, work), name=name))

    async def _supervise(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        # A worker that dies (broker gone for a moment, database restart) comes back after a pause
        # instead of leaving the service alive but deaf. The pause doubles while it keeps dying at once and
        # starts small again after a good run, so an outage next week is not met with the longest pause.
        delay = RESTART_FIRST
        while True:
            started = time.monotonic()
            try:
                await work()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started >= RESTART_CAP:
                    delay = RESTART_FIRST
                if classify(exc) is Failure.INFRASTRUCTURE:  # an outage, not a bug: no traceback per round
                    log.warning("worker.outage", worker=name, restart_in=delay, error=repr(exc))
                else:
                    log.exception("worker.crashed", worker=name, restart_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_CAP)

    async def wait_consumers_ready(self) -> None:
        """Until every consumer has joined its group and polled once (used by tests and readiness)."""
        await asyncio.gather(*(c.ready.wait() for c in self.consumers.values()))

    async def stop(self) -> None:
        """Cancel the workers, flush the producer, close the pool; each step gets STOP_SECONDS, then it is
        given up with an error in the log. A stop that never ends (a test session hung on one after a broker
        restart) is worse than a stop that leaves a connection to the server's timeout."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, stuck = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved: a worker's last error was logged where it happened
            for task in stuck:
                log.error("worker.stop_stuck", worker=task.get_name(), seconds=STOP_SECONDS)
        self._tasks.clear()
        if self._producer is not None:
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    await self._producer.stop()
            except TimeoutError:
                log.error("producer.stop_stuck", seconds=STOP_SECONDS)
        if self._pool is not None:
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    await self._pool.close()  # waits for every connection to come back
            except TimeoutError:
                log.error("db.pool_close_stuck", seconds=STOP_SECONDS)
                self._pool.terminate()
        log.info("service.stopped", service=self.settings.service_name)

    async def _check_db(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def _check_kafka(self) -> None:
        await self.producer.check(TICKET_LIFECYCLE.name)

    async def _check_consumers(self) -> None:
        # A consumer waiting out an outage is alive but not doing its job: say so, and why.
        stalled = {name: c.stalled for name, c in self.consumers.items() if c.stalled is not None}
        if stalled:
            raise RuntimeError("; ".join(f"{name}: {why}" for name, why in sorted(stalled.items())))

    def attach(self, app: FastAPI) -> None:
        """Adds the ops endpoints and what request dependencies need (identity.py)."""
        app.state.internal_secret = self.settings.internal_secret
        app.add_middleware(HttpMetrics, service=self.settings.service_name)
        app.include_router(
            ops_router({"database": self._check_db, "kafka": self._check_kafka, "consumers": self._check_consumers})
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


def _fetch(min_bytes: int, wait_ms: int) -> dict[str, int]:
    """EventConsumer's fetch arguments: answered once ``min_bytes`` are there or ``wait_ms`` passed."""
    return {"fetch_min_bytes": min_bytes, "fetch_max_wait_ms": wait_ms}
