"""Outbox and inbox pruning: old rows go in small batches, recent and unpublished ones stay."""

from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.common.housekeeping import prune_all
from cityloop.common.settings import CommonSettings

SCHEMA = "housekeeping_test"


@pytest.fixture
async def pool(database: str) -> AsyncIterator[PgPool]:
    pool = await create_pool(database, SCHEMA, min_size=1, max_size=2)
    try:
        await migrate(pool, SCHEMA, None)
        yield pool
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await pool.close()


async def test_old_rows_are_pruned_in_batches_and_the_rest_kept(pool: PgPool) -> None:
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, applied_at)"
        " SELECT 'c', 'old-' || n, now() - interval '130 days' FROM generate_series(1, 7) n"
        " UNION ALL SELECT 'c', 'kept-' || n, now() - interval '100 days' FROM generate_series(1, 3) n"
    )
    await pool.execute(
        "INSERT INTO outbox (topic, key, event_id, payload, created_at, published_at) VALUES"
        " ('t', 'k', 'published-old-1', '\\x00', now() - interval '40 days', now() - interval '40 days'),"
        " ('t', 'k', 'published-old-2', '\\x00', now() - interval '40 days', now() - interval '39 days'),"
        " ('t', 'k', 'published-old-3', '\\x00', now() - interval '40 days', now() - interval '36 days'),"
        " ('t', 'k', 'unpublished-old', '\\x00', now() - interval '40 days', NULL),"
        " ('t', 'k', 'published-recent', '\\x00', now() - interval '2 days', now() - interval '2 days')"
    )
    settings = CommonSettings()
    removed = await prune_all(
        pool, outbox_days=settings.outbox_retention_days, inbox_days=settings.inbox_retention_days, batch=2
    )
    assert removed == {"outbox": 3, "inbox": 7}
    inbox_left = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")}
    outbox_left = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM outbox")}
    assert inbox_left == {"kept-1", "kept-2", "kept-3"}
    assert outbox_left == {"unpublished-old", "published-recent"}
    assert await prune_all(pool, outbox_days=35, inbox_days=120, batch=2) == {"outbox": 0, "inbox": 0}


def test_the_inbox_must_outlive_the_dead_letter_queues() -> None:
    # DLQs keep events 90 days (topics.py): an inbox that forgot sooner would apply a replay twice.
    with pytest.raises(ValidationError, match="inbox_retention_days"):
        CommonSettings(inbox_retention_days=60)
