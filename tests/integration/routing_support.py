"""Helpers for router's tests over the real broker: a dispatcher's client, places, and waiting."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cityloop.common.identity import HEADER as IDENTITY_HEADER
from cityloop.common.identity import Identity, Role, encode_identity
from cityloop.router.data.files import city_files
from cityloop.router.settings import RouterSettings
from tests.integration.conftest import Loop


def identity_header(subject: str, role: Role, dept_code: str | None = None) -> dict[str, str]:
    identity = Identity(subject=subject, role=role, dept_code=dept_code)
    return {IDENTITY_HEADER: encode_identity(identity, RouterSettings().internal_secret)}


@asynccontextmanager
async def router_client(
    loop: Loop, subject: str = "disp-1", role: Role = Role.DISPATCHER, dept_code: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The router's HTTP API as the gateway forwards it, signed for ``subject``."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["router"]),
        base_url="http://router",
        headers=identity_header(subject, role, dept_code),
    ) as client:
        yield client


def address_in(street: str, nth: int = 0, offset: int = 0) -> str:
    """An address ("浦东新区某路123号") inside the ``nth`` grid of ``street``; ``offset`` moves the number."""
    grid = [g for g in city_files().grids if g.code.startswith(f"{street}-")][nth]
    district = next(d for d in city_files().districts if street.startswith(f"{d.code}-"))
    return f"{district.name}{grid.road}{grid.num_lo + offset}号"


def ticket(description: str, address: str | None, category: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "hotline",
        "citizen": {"name": "李四", "phone": "13900001111"},
        "description": description,
        "location": {"address": address} if address else {},
        **extra,
    }
    if category:
        body["category"] = category
    return body


async def create(loop: Loop, body: dict[str, Any]) -> str:
    response = await loop.intake.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["id"]
    return ticket_id


async def timeline(
    loop: Loop, ticket_id: str, event_type: str | tuple[str, ...], count: int = 1
) -> list[dict[str, Any]]:
    """The trail once it holds ``count`` events of ``event_type`` (or of any of several types)."""
    wanted = (event_type,) if isinstance(event_type, str) else event_type
    async with asyncio.timeout(30):
        while True:
            response = await loop.intake.get(f"/api/v1/tickets/{ticket_id}/timeline")
            assert response.status_code == 200
            trail: list[dict[str, Any]] = response.json()
            if sum(e["type"] in wanted for e in trail) >= count:
                return trail
            await asyncio.sleep(0.1)


def last(trail: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    return [e for e in trail if e["type"] == event_type][-1]
