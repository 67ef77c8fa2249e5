"""Helpers for the emergency-mode tests over the real broker and database."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cityloop.common.identity import Role
from cityloop.router.emergencies.rehoming import Rehomer
from tests.integration.conftest import Loop
from tests.integration.routing_support import identity_header, router_client


@asynccontextmanager
async def command_centre(loop: Loop) -> AsyncIterator[httpx.AsyncClient]:
    async with router_client(loop, "cmd-1", Role.COMMAND_CENTRE) as client:
        yield client


@asynccontextmanager
async def sla_client(loop: Loop) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["sla"]),
        base_url="http://sla",
        headers=identity_header("auditor-1", Role.AUDITOR),
    ) as client:
        yield client


def declaration(district: str, **overrides: Any) -> dict[str, Any]:
    """A flood emergency for ``district``: its operations centre commands, water/transport/emergency act."""
    body: dict[str, Any] = {
        "name": f"{district} 暴雨内涝",
        "level": "III",
        "scope": {"districts": [district], "streets": []},
        "categories": ["water.flooding", "power.outage"],
        "command_unit": f"{district}-ops",
        "participants": {
            "water.flooding": [f"{district}-water", f"{district}-transport", f"{district}-emergency"],
            "power.outage": [f"{district}-power", f"{district}-emergency"],
        },
        "deadlines": {"accept_minutes": 10, "onsite_minutes": 30, "resolve_minutes": 120},
    }
    body.update(overrides)
    return body


async def declare(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/emergencies", json=body)
    assert response.status_code == 201, response.text
    declared: dict[str, Any] = response.json()
    return declared


async def rehomed(loop: Loop) -> None:
    """Until the router's background re-homing has finished every change made so far."""
    rehomer: Rehomer = loop.apps["router"].state.rehomer
    async with asyncio.timeout(120):
        await asyncio.sleep(0)
        await rehomer.idle.wait()


async def routing_record(loop: Loop, ticket_id: str) -> dict[str, Any]:
    async with router_client(loop) as router:
        response = await router.get(f"/api/v1/routing/{ticket_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


async def outbox_drained(loop: Loop, service: str = "router") -> None:
    """Until ``service`` has published everything it committed (its outbox is empty)."""
    pool = loop.runtime(service).pool
    async with asyncio.timeout(120):
        while await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
