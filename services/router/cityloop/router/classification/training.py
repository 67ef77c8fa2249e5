"""The loop of data production and use: labelled examples (dispatcher corrections, confirmations,
upheld rejections) plus generated seed examples -> a new calibrated model, stored in the database so every
replica and every restart uses it. Runs on command (API, CLI) and on a schedule, one replica at a time."""

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import asyncpg
import structlog

from cityloop.common.db.locks import schema_lock_key
from cityloop.common.db.pool import Conn, PgPool
from cityloop.router.classification import store
from cityloop.router.classification.calibration import calibrate
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


#: held-out generated requests per category the calibration is fitted on
CALIBRATION_PER_CATEGORY = 20


def train_model(data: TrainingSet, keywords: dict[str, list[str]], *, seed: int) -> TextClassifier:
    """The model in use: trained on every example, then calibrated on generated requests it never saw
    (another seed: other openers, places, typos and second matters around the catalogue's phrasings)."""
    model = TextClassifier.train(data.texts, data.labels, keywords)
    held_out = generate(per_category=CALIBRATION_PER_CATEGORY, seed=seed + 1)
    scores, _ = model.scores([r.text for r in held_out])
    return model.with_calibration(calibrate(scores, [r.category for r in held_out], model.classes))


def trained_blob(data: TrainingSet, keywords: dict[str, list[str]], *, seed: int) -> tuple[bytes, dict[str, object]]:
    """``train_model`` as the stored bytes and the calibration: what a training process hands back."""
    model = train_model(data, keywords, seed=seed)
    return model.to_bytes(), model.calibration.as_dict()


async def train_in_child(
    data: TrainingSet, keywords: dict[str, list[str]], *, seed: int
) -> tuple[bytes, dict[str, object]]:
    """Train in a short-lived child process: scikit-learn, scipy and the training's peak memory never
    enter the router (which predicts with numpy alone: features.py), and the event loop stays free.
    "spawn": a fork would copy the router's memory and its running event loop."""
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, partial(trained_blob, data, keywords, seed=seed))
    except BaseException:
        # Router stopping (cancelled) or the wait failed: the child must not train on alone. The executor
        # has no public way to stop a running worker, so its (private) table of worker processes is used.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        raise
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _info(row: asyncpg.Record, **more: object) -> dict[str, object]:
    return {
        "model_id": row["id"],
        "trigger": row["trigger"],
        "seed_examples": row["seed_examples"],
        "labelled_examples": row["labelled_examples"],
        "last_example_id": row["last_example_id"],
        **more,
    }


async def train_and_store(pool: PgPool, settings: RouterSettings, *, trigger: str) -> dict[str, object]:
    """Train and store a new model. Replicas take turns (an advisory lock); one that waited while another
    trained on every example it knows of takes that model instead of training the same one again."""
    lock = schema_lock_key("classifier-retrain", settings.db_schema)
    async with pool.acquire() as conn:
        asked_after_model = await store.latest_model_id(conn)
        asked_with_example = await store.last_example_id(conn)
        await conn.execute("SELECT pg_advisory_lock($1)", lock)
        try:
            latest = await store.latest_model(conn, with_blob=False)
            if (
                latest is not None
                and latest["id"] > asked_after_model
                and latest["last_example_id"] >= asked_with_example
            ):
                info = _info(latest, shared=True)
                log.info("classifier.trained_meanwhile", asked_by=trigger, **info)
                return info
            return await _train_and_store(conn, settings, trigger=trigger)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)


async def _train_and_store(conn: Conn, settings: RouterSettings, *, trigger: str) -> dict[str, object]:
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
    # CPU-bound for some seconds: off the event loop, so consumers keep their group membership.
    blob, calibration = await train_in_child(data, keywords, seed=settings.seed_generator_seed)
    async with conn.transaction():
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
        "calibration": calibration,
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
