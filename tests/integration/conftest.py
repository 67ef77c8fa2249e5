"""The four services running in this process against the real broker and database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from cityloop.common.runtime import ServiceRuntime
from cityloop.feedback.app import create_app as feedback_app
from cityloop.intake.app import create_app as intake_app
from cityloop.router.app import create_app as router_app
from cityloop.sla.app import create_app as sla_app


@dataclass
class Loop:
    intake: httpx.AsyncClient
    feedback: httpx.AsyncClient
    apps: dict[str, FastAPI]

    def runtime(self, name: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[name].state.runtime
        return runtime


@pytest.fixture(scope="session")
async def loop(database: str, kafka: str) -> AsyncIterator[Loop]:
    apps = {"intake": intake_app(), "router": router_app(), "sla": sla_app(), "feedback": feedback_app()}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with asyncio.timeout(90):  # a broker that never lets a group join fails loudly, not forever
            for app in apps.values():
                await app.state.runtime.wait_consumers_ready()
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[name]), base_url=f"http://{name}")
            )
            for name in ("intake", "feedback")
        }
        yield Loop(intake=clients["intake"], feedback=clients["feedback"], apps=apps)
