"""A coroutine run in the background for the length of a block, for tests and benchmarks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, T]) -> AsyncIterator["asyncio.Task[T]"]:
    """``coro`` runs as a task for the block; cancelled and awaited at its end, whatever happened."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
