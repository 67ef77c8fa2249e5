"""Transactional outbox: ``enqueue`` inside the business transaction, ``OutboxRelay`` publishes.

A crash after publishing but before marking republishes the same event id; consumers de-duplicate
through their inbox, so the effect is exactly once.
"""

import asyncio
import contextlib
from collections import Counter as Counter_
from collections.abc import Awaitable, Callable, Sequence

import orjson
import structlog
from prometheus_client import Counter, Gauge

from cityloop.common.db.composed import Composed
from cityloop.common.db.locks import schema_lock_key
from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.envelope import CloudEvent, peek_type
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.metrics import events as event_metrics

log = structlog.get_logger(__name__)

OUTBOX_PUBLISHED = Counter("cityloop_outbox_published_total", "Outbox events published", ["service"])
OUTBOX_PENDING = Gauge("cityloop_outbox_pending", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "cityloop_outbox_oldest_age_seconds", "Age of the oldest outbox event not yet published (0: none)", ["service"]
)


def _channel(schema: str) -> str:
    """The relay's LISTEN channel; ``_NOTIFY`` builds the same name in SQL from the connection's schema."""
    return f"outbox_{schema}"


# Insert and wake the relay in one round trip; the NOTIFY is delivered only if the transaction commits.
_NOTIFY = " SELECT (SELECT count(*) FROM added), pg_notify('outbox_' || current_schema(), '')"


async def enqueue(conn: Conn, topic: str, event: CloudEvent, *, key: str | None = None) -> None:
    """Record an event for publishing; call inside the transaction that makes the change it announces."""
    await conn.execute(
        "WITH added AS (INSERT INTO outbox (topic, key, event_id, payload) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING 1)" + _NOTIFY,
        topic,
        key if key is not None else event.subject,
        event.id,
        event.to_bytes(),
    )


def enqueue_into(q: Composed, name: str, items: Sequence[tuple[str, CloudEvent]], *, gate: str) -> None:
    """``enqueue`` for ``items`` (topic, event; keyed by subject, in this order) as a CTE of ``q``
    (db/composed.py). The caller's final SELECT must include ``NOTIFY_COLUMN`` for the relay's wake-up."""
    rows = ", ".join(
        f"({q.arg(topic, 'text')}, {q.arg(event.subject, 'text')}, {q.arg(event.id, 'text')},"
        f" {q.arg(event.to_bytes(), 'bytea')})"
        for topic, event in items
    )
    q.cte(
        name,
        "INSERT INTO outbox (topic, key, event_id, payload)"
        f" SELECT v.* FROM (VALUES {rows}) AS v WHERE {gate} ON CONFLICT (event_id) DO NOTHING RETURNING 1",
    )


#: The relay's wake-up, as a column of a composed statement's final SELECT (evaluated once per row).
NOTIFY_COLUMN = "pg_notify('outbox_' || current_schema(), '') AS notified"


async def enqueue_many(conn: Conn, items: Sequence[tuple[str, CloudEvent]]) -> int:
    """``enqueue`` for many (topic, event) pairs in one statement and one notification, keyed by each
    event's subject; for bulk work such as firing thousands of timers. Returns how many rows were new."""
    if not items:
        return 0
    added = await conn.fetchval(
        "WITH added AS (INSERT INTO outbox (topic, key, event_id, payload)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])"
        " ON CONFLICT (event_id) DO NOTHING RETURNING 1)" + _NOTIFY,
        [topic for topic, _ in items],
        [event.subject for _, event in items],
        [event.id for _, event in items],
        [event.to_bytes() for _, event in items],
    )
    return int(added)


async def copy_many(conn: Conn, rows: Sequence[tuple[str, str | None, str, bytes]]) -> int:
    """``enqueue`` for events already serialised, as (topic, key, event id, CloudEvent bytes), through
    COPY: for bulk work of hundreds of thousands of events (emergency re-homing), where the arrays of
    ``enqueue_many`` cost more than the change itself. The ids must be new (COPY has no ON CONFLICT):
    use it for events made in this transaction, never to replay ones that may be there already."""
    if not rows:
        return 0
    await conn.copy_records_to_table("outbox", records=rows, columns=["topic", "key", "event_id", "payload"])
    await conn.execute("SELECT pg_notify('outbox_' || current_schema(), '')")
    return len(rows)


def _event_type(payload: bytes) -> str | None:
    # The row holds the serialised CloudEvent; its type is all the metric needs: read without parsing
    # (a switch publishes hundreds of thousands), parsed only when that cannot tell.
    peeked = peek_type(payload)
    if peeked is not None:
        return peeked
    try:
        value = orjson.loads(payload).get("type")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class OutboxRelay:
    def __init__(
        self,
        pool: PgPool,
        producer: EventProducer,
        *,
        schema: str,
        batch: int = 500,
        idle_seconds: float = 0.5,
        linger_seconds: float = 0.005,
        provision: Callable[[set[str]], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        #: Called with a batch's topics before it is published (topics.TopicProvisioner.ensure).
        self._provision = provision
        self._producer = producer
        self._schema = schema
        self._batch = batch
        self._idle = idle_seconds
        self._linger = linger_seconds
        self._wake = asyncio.Event()
        # One relay per schema at a time keeps per-ticket order; keyed by schema, so the services' relays
        # (one schema each, one database) publish side by side instead of taking turns.
        self._lock = schema_lock_key("outbox-relay", schema)

    async def run(self) -> None:
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(_channel(self._schema), self._on_notify)
            while True:
                published = await self.publish_once()
                if published < self._batch:
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                    # races with the wake-up, and the relay would never stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._idle):
                            await self._wake.wait()
                    if self._wake.is_set() and self._linger:
                        # Let the commits of the next few milliseconds join this batch: under load, one
                        # publish (three round trips and a produce request) per batch, not per commit.
                        await asyncio.sleep(self._linger)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(_channel(self._schema), self._on_notify)
            await self._pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def take_turn(self, conn: Conn) -> bool:
        """Take this schema's relay lock for ``conn``'s transaction; False while another relay holds it."""
        return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", self._lock))

    async def publish_once(self) -> int:
        """Publish one batch in id order; returns how many rows were published.

        Four round trips: BEGIN; one SELECT that takes this schema's turn and reads the oldest unpublished
        rows (none if another relay has the turn); the UPDATE that marks them once the broker acknowledged
        every record; COMMIT. A crash between publishing and marking publishes the rows again
        (consumers' inboxes make a repeat a no-op).

        The marking commits without waiting for its WAL flush (``synchronous_commit`` off for this
        transaction only): a database crash can then lose only the latest marks, which is the same case as
        a relay crash before marking (the rows are published again), and a bulk publish (an emergency
        switch, hundreds of rounds) no longer waits a disk flush per round."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "WITH turn AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($2) AS ok,"
                " set_config('synchronous_commit', 'off', true))"
                " SELECT o.id, o.topic, o.key, o.payload FROM outbox o, turn"
                " WHERE turn.ok AND o.published_at IS NULL ORDER BY o.id LIMIT $1",
                self._batch,
                self._lock,
            )
            if not rows:
                return 0
            if self._provision is not None:
                await self._provision({r["topic"] for r in rows})
            futures = await self._producer.send_many([(r["topic"], r["payload"], r["key"]) for r in rows])
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
            )
        OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        for (topic, type_), n in Counter_((r["topic"], _event_type(r["payload"])) for r in rows).items():
            event_metrics.produced(self._schema, topic, "", type_, n)
        return len(rows)

    async def measure_backlog(self, every_seconds: float = 10.0) -> None:
        """Background worker: the backlog gauges, from one query over the partial index every few seconds
        (not per message). Every replica may measure: they all read the same table."""
        pending = OUTBOX_PENDING.labels(self._schema)
        oldest = OUTBOX_OLDEST_AGE.labels(self._schema)
        while True:
            row = await self._pool.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
                " FROM outbox WHERE published_at IS NULL"
            )
            assert row is not None
            pending.set(row["n"])
            oldest.set(float(row["age"]))
            await asyncio.sleep(every_seconds)
