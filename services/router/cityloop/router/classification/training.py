"""The loop of data production and use: labelled examples (dispatcher corrections, confirmations,
upheld rejections) plus generated seed examples -> a new model, stored in the database so every replica
and every restart uses it. Runs on command (API, CLI) and on a schedule."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from cityloop.common.db.pool import PgPool
from cityloop.router.classification import store
from cityloop.router.classification.generator import generate
from cityloop.router.classification.model import TextClassifier
from cityloop.router.data.files import catalogue_file
from cityloop.router.settings import RouterSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrainingSet:
    texts: list[str]
    labels: list[str]
    seed_examples: int
    labelled_examples: int


def training_set(
    labelled: Sequence[tuple[str, str]], *, known: set[str], per_category: int, seed: int, labelled_weight: int
) -> TrainingSet:
    """Generated examples for every known category plus the labelled ones (weighted: they are real)."""
    generated = generate(per_category=per_category, seed=seed)
    texts = [r.text for r in generated]
    labels = [r.category for r in generated]
    usable = [(t, c) for t, c in labelled if c in known]
    for text, category in usable:
        texts += [text] * labelled_weight
        labels += [category] * labelled_weight
    return TrainingSet(texts, labels, len(generated), len(usable))


def catalogue_keywords() -> dict[str, list[str]]:
    return {entry.code: list(entry.kw) for entry in catalogue_file().category}


async def train_and_store(pool: PgPool, settings: RouterSettings, *, trigger: str) -> dict[str, object]:
    async with pool.acquire() as conn:
        rows = await store.examples(conn)
    last = max((r["id"] for r in rows), default=0)
    keywords = catalogue_keywords()
    data = training_set(
        [(r["text"], r["category"]) for r in rows],
        known=set(keywords),
        per_category=settings.seed_examples_per_category,
        seed=settings.seed_generator_seed,
        labelled_weight=settings.labelled_weight,
    )
    # CPU-bound for a few seconds: off the event loop, so consumers keep their group membership.
    model = await asyncio.to_thread(TextClassifier.train, data.texts, data.labels, keywords)
    blob = model.to_bytes()
    async with pool.acquire() as conn, conn.transaction():
        model_id = await store.insert_model(
            conn,
            seed_examples=data.seed_examples,
            labelled_examples=data.labelled_examples,
            last_example=last,
            trigger=trigger,
            blob=blob,
        )
        await store.prune_models(conn, settings.models_kept)
    info: dict[str, object] = {
        "model_id": model_id,
        "trigger": trigger,
        "seed_examples": data.seed_examples,
        "labelled_examples": data.labelled_examples,
        "last_example_id": last,
        "bytes": len(blob),
    }
    log.info("classifier.trained", **info)
    return info


async def ensure_model(pool: PgPool, settings: RouterSettings) -> None:
    async with pool.acquire() as conn:
        if await store.latest_model_id(conn):
            return
    await train_and_store(pool, settings, trigger="initial")


async def retrain_if_new_examples(pool: PgPool, settings: RouterSettings) -> dict[str, object] | None:
    async with pool.acquire() as conn:
        latest = await store.latest_model(conn, with_blob=False)
        newest_example = await store.last_example_id(conn)
    if latest is not None and newest_example <= latest["last_example_id"]:
        return None
    return await train_and_store(pool, settings, trigger="schedule")


async def run_schedule(pool: PgPool, settings: RouterSettings) -> None:
    """The background worker: retrain when labelled examples arrived since the current model."""
    while True:
        await asyncio.sleep(settings.retrain_interval_seconds)
        await retrain_if_new_examples(pool, settings)
