"""An ASGI app served over a real socket for the length of a test (uvicorn in this event loop)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tests.ports import free_port


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """``app`` on 127.0.0.1 at a free port; yields its base URL. The app's lifespan is the caller's business."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(600):  # uvicorn flags `started` once it listens; it offers no event to await
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, f"uvicorn did not start on port {port}"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
