"""Training runs in a child process (classification/training.py): a router that stops while a model trains
leaves no child training on alone."""

import asyncio
import multiprocessing
import random

import pytest

from cityloop.router.classification.training import TrainingSet, train_in_child


async def test_a_cancelled_training_stops_its_child() -> None:
    # Enough text that training outlasts the test by far (minutes), so only terminating the child ends it.
    rng = random.Random(7)
    chars = "路灯不亮垃圾没人收噪音扰民积水井盖破损占道经营"
    texts = ["".join(rng.choice(chars) for _ in range(60)) for _ in range(20_000)]
    data = TrainingSet(texts, [f"c{i % 40}" for i in range(len(texts))], len(texts), 0)
    task = asyncio.create_task(train_in_child(data, {"a": ["路灯"]}, seed=1))
    async with asyncio.timeout(120):
        while not multiprocessing.active_children():  # noqa: ASYNC110 — the child is up (spawning takes a moment)
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(20):
        while multiprocessing.active_children():  # noqa: ASYNC110 — another process: reaped once terminated
            await asyncio.sleep(0.05)
    assert multiprocessing.active_children() == []
