"""Running a test's own EventConsumer against the real broker and database until its effects are in."""

import asyncio
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

from cityloop.common.db.pool import PgPool
from cityloop.common.kafka.consumer import EventConsumer
from tests.tasks import background


def running(consumer: EventConsumer) -> AbstractAsyncContextManager["asyncio.Task[None]"]:
    """``consumer`` runs for the block; stopped (cancelled) at its end, whatever happened."""
    return background(consumer.run())


async def claimed(pool: PgPool, consumer: str) -> list[str]:
    """The event ids ``consumer`` (an inbox name) has applied, sorted."""
    rows = await pool.fetch("SELECT event_id FROM inbox WHERE consumer = $1", consumer)
    return sorted(r["event_id"] for r in rows)


async def until_claimed(
    pool: PgPool, task: "asyncio.Task[None]", wanted: Mapping[str, list[str]], *, seconds: float = 60
) -> None:
    """Until each inbox name of ``wanted`` has applied exactly its (sorted) ids; fails if the consumer dies."""
    seen: dict[str, list[str]] = {}
    try:
        async with asyncio.timeout(seconds):
            while (seen := {name: await claimed(pool, name) for name in wanted}) != wanted:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.2)
    except TimeoutError:
        missing = {name: sorted(set(ids) - set(seen[name])) for name, ids in wanted.items()}
        extra = {name: sorted(set(seen[name]) - set(ids)) for name, ids in wanted.items()}
        raise AssertionError(f"after {seconds}s, not applied: {missing}; applied but not wanted: {extra}") from None
