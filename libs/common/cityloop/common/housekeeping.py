"""Pruning the outbox and the inbox on a schedule, in small batches so it never holds long locks.

The inbox must remember an event for longer than that event can come back: topics keep events 30 days
(topics.py) and DLQs 90 days, so a replay (dlq.py) or a consumer rewound to the start of a topic is still
recognised as a duplicate. Settings: ``CITYLOOP_INBOX_RETENTION_DAYS`` (default 120, must exceed the DLQ's
90), ``CITYLOOP_OUTBOX_RETENTION_DAYS`` (published rows, default 35), ``CITYLOOP_HOUSEKEEPING_*``.
"""

import asyncio

import structlog

from cityloop.common.db.pool import PgPool

log = structlog.get_logger(__name__)


async def prune_outbox(pool: PgPool, *, older_than_days: float, batch: int) -> int:
    """Delete up to ``batch`` published outbox rows older than the retention; returns how many."""
    result = await pool.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at IS NOT NULL"
        " AND published_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)",
        older_than_days * 86400.0,
        batch,
    )
    return int(result.split()[-1])


async def prune_inbox(pool: PgPool, *, older_than_days: float, batch: int) -> int:
    """Delete up to ``batch`` inbox rows older than the retention; returns how many."""
    result = await pool.execute(
        "DELETE FROM inbox WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM inbox"
        " WHERE applied_at < now() - make_interval(secs => $1) ORDER BY applied_at LIMIT $2)",
        older_than_days * 86400.0,
        batch,
    )
    return int(result.split()[-1])


async def prune_all(pool: PgPool, *, outbox_days: float, inbox_days: float, batch: int) -> dict[str, int]:
    """One housekeeping round: batches until nothing old is left; how many rows went, per table."""
    removed = {"outbox": 0, "inbox": 0}
    for table, prune, days in (("outbox", prune_outbox, outbox_days), ("inbox", prune_inbox, inbox_days)):
        while True:
            n = await prune(pool, older_than_days=days, batch=batch)
            removed[table] += n
            if n < batch:
                break
            await asyncio.sleep(0.05)  # let the service's own queries in between batches
    return removed


async def run_forever(pool: PgPool, *, outbox_days: float, inbox_days: float, batch: int, every_seconds: float) -> None:
    """The runtime's background worker (runtime.py): a round now, then every ``every_seconds``."""
    while True:
        removed = await prune_all(pool, outbox_days=outbox_days, inbox_days=inbox_days, batch=batch)
        if any(removed.values()):
            log.info("housekeeping.pruned", **removed)
        await asyncio.sleep(every_seconds)
