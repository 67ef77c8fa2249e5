"""A service's stop ends even when a worker will not: it gives up on it after STOP_SECONDS and says so."""

import asyncio

import pytest
from structlog.testing import capture_logs

from cityloop.common import runtime as runtime_module
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.settings import CommonSettings


async def test_stop_gives_up_on_a_worker_that_ignores_cancellation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "STOP_SECONDS", 0.2)
    released = asyncio.Event()

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # what a worker stuck in a library's shutdown looks like from outside

    runtime = ServiceRuntime(CommonSettings(), migrations=None)
    runtime._spawn("stubborn", stubborn)
    await asyncio.sleep(0)  # the worker is running
    stuck = list(runtime._tasks)
    with capture_logs() as logs:
        async with asyncio.timeout(5):
            await runtime.stop()
    assert [e["worker"] for e in logs if e["event"] == "worker.stop_stuck"] == ["stubborn"]
    assert any(e["event"] == "service.stopped" for e in logs)

    released.set()
    for task in stuck:
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
