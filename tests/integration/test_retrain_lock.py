"""Retraining takes a lock: two replicas asked to retrain at once train one model between them, and the
one that waited takes it instead of training the same model again."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.router.app import MIGRATIONS
from cityloop.router.classification.training import train_and_store
from cityloop.router.settings import RouterSettings
from tests.conftest import TEST_DB
from tests.databases import scratch_database

#: the smallest seed set: the test is about turns, not about the model
SETTINGS = RouterSettings(seed_examples_per_category=3)


@pytest.fixture
async def replicas(database: str) -> AsyncIterator[tuple[PgPool, PgPool]]:
    async with scratch_database(f"{TEST_DB}_retrain_lock") as dsn:
        first = await create_pool(dsn, SETTINGS.db_schema, min_size=1, max_size=2)
        second = await create_pool(dsn, SETTINGS.db_schema, min_size=1, max_size=2)
        try:
            await migrate(first, SETTINGS.db_schema, MIGRATIONS)
            yield first, second
        finally:
            await first.close()
            await second.close()


async def models(pool: PgPool) -> list[str]:
    return [r["trigger"] for r in await pool.fetch("SELECT trigger FROM classifier_models ORDER BY id")]


async def test_two_replicas_retraining_at_once_train_one_model(replicas: tuple[PgPool, PgPool]) -> None:
    first, second = replicas
    a, b = await asyncio.gather(
        train_and_store(first, SETTINGS, trigger="command:replica-a"),
        train_and_store(second, SETTINGS, trigger="command:replica-b"),
    )
    assert a["model_id"] == b["model_id"]
    trained, waited = (a, b) if "bytes" in a else (b, a)
    assert waited["shared"] is True
    assert waited["trigger"] == trained["trigger"]
    assert await models(first) == [trained["trigger"]]
    assert "calibration" in trained

    # Asked after that model was stored, a replica trains a new one: the lock is for turns, not a skip.
    later = await train_and_store(second, SETTINGS, trigger="command:replica-b-later")
    assert "shared" not in later
    assert later["model_id"] != a["model_id"]
    assert await models(first) == [trained["trigger"], "command:replica-b-later"]
