"""The four services running in this process against the real broker and database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.settings import CommonSettings
from cityloop.feedback.app import create_app as feedback_app
from cityloop.intake.app import create_app as intake_app
from cityloop.intake.settings import IntakeSettings
from cityloop.router.app import create_app as router_app
from cityloop.router.data.files import catalogue_file
from cityloop.sla.app import create_app as sla_app
from tests.conftest import TOPIC_PREFIX
from tests.contract_check import check_published_events

SECRET = CommonSettings().internal_secret


@dataclass
class Loop:
    feedback: httpx.AsyncClient
    apps: dict[str, FastAPI]
    #: The gateway, signed in as the demo dispatcher (any role may create and read tickets).
    intake: httpx.AsyncClient = field(init=False)

    def runtime(self, name: str) -> ServiceRuntime:
        runtime: ServiceRuntime = self.apps[name].state.runtime
        return runtime

    async def token(self, username: str) -> str:
        """An access token for a demo account (password demo-<username>), from the real login endpoint."""
        async with self.anonymous() as anonymous:
            response = await anonymous.post(
                "/api/v1/auth/token", data={"username": username, "password": f"demo-{username}"}
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def signed_in(self, username: str) -> httpx.AsyncClient:
        """A gateway client signed in as the demo account ``username``."""
        return self.client({"Authorization": f"Bearer {await self.token(username)}"})

    def anonymous(self) -> httpx.AsyncClient:
        return self.client({})

    def client(self, headers: dict[str, str], *, client_address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps["intake"], client=(client_address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers)


class InProcessServices(httpx.AsyncBaseTransport):
    """The gateway's forwarded calls (intake gateway.py), answered by the services running in this process."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self._by_host = {name: httpx.ASGITransport(app=app) for name, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._by_host[request.url.host].handle_async_request(request)


@pytest.fixture(scope="session", autouse=True)
async def events_match_the_published_contract(kafka: str) -> AsyncIterator[None]:
    """After the session's tests: every event CityLoop published validates against its JSON Schema in
    docs/contract/events/, and an event of a type the contract does not publish fails the session."""
    yield
    counted, problems = await check_published_events(kafka, TOPIC_PREFIX)
    assert problems == [], f"{len(problems)} events break the published contract, e.g. {problems[:20]}"
    print(f"\ncontract: {sum(counted.values())} published events checked, by type: {dict(sorted(counted.items()))}")


@pytest.fixture(scope="session")
async def loop(database: str, kafka: str) -> AsyncIterator[Loop]:
    services = {"router": router_app(), "sla": sla_app(), "feedback": feedback_app()}
    gateway_settings = IntakeSettings(router_url="http://router", sla_url="http://sla", feedback_url="http://feedback")
    gateway = intake_app(gateway_settings, upstream_transport=InProcessServices(services))
    apps = {"intake": gateway, **services}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with asyncio.timeout(90):  # a broker that never lets a group join fails loudly, not forever
            for app in apps.values():
                await app.state.runtime.wait_consumers_ready()
        feedback = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps["feedback"]),
                base_url="http://feedback",
                # As the gateway would call it for a signed-in dispatcher.
                headers={HEADER: encode_identity(Identity(subject="dispatcher", role=Role.DISPATCHER), SECRET)},
            )
        )
        loop = Loop(feedback=feedback, apps=apps)
        loop.intake = await stack.enter_async_context(await loop.signed_in("dispatcher"))
        await catalogue_offered(loop)
        yield loop


async def catalogue_offered(loop: Loop) -> None:
    """Open311's services come from router's catalogue events: the loop is ready once intake has them."""
    pool = loop.apps["intake"].state.runtime.pool
    wanted = len(offered_services())
    async with asyncio.timeout(60):
        # Read from intake's table, not services.json: the public endpoint is rate-limited per client.
        while True:
            if await pool.fetchval("SELECT count(*) FROM open311_services") >= wanted:
                return
            await asyncio.sleep(0.2)


def offered_services() -> list[str]:
    """Every reportable category of the catalogue file (handovers to 110/119/120/122 are not offered)."""
    return [s.code for s in catalogue_file().services() if s.reportable]
