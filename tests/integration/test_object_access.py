"""Object-level access (issue 11): another department gets 404, never data, for a department's ticket on
router's routing record, merges and corrections, sla's deadlines and feedback's callbacks; the department
holding the assignment (and the hotline's staff) read them. Each service checks with its own data."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from tests.integration.conftest import SECRET, Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline

OTHER = "hp-sanitation"


@asynccontextmanager
async def as_department(loop: Loop, service: str, dept_code: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service's API as the gateway forwards a department's call (the signed identity header)."""
    header = encode_identity(Identity(subject=f"staff-{dept_code}", role=Role.DEPARTMENT, dept_code=dept_code), SECRET)
    transport = httpx.ASGITransport(app=loop.apps[service])
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}", headers={HEADER: header}) as c:
        yield c


async def deadlines_of(client: httpx.AsyncClient, ticket_id: str) -> dict[str, Any]:
    """Once sla has opened the ticket's clocks (it follows the dispatch on Kafka)."""
    for _ in range(200):
        response = await client.get(f"/api/v1/deadlines/tickets/{ticket_id}")
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"no deadlines for {ticket_id}: {response.text}")


async def test_another_department_gets_404_on_every_object_endpoint(loop: Loop) -> None:
    first_id = await create(
        loop, ticket("马路中间有个大坑电动车差点摔倒", address_in("pd-s07", 0), "transport.pothole")
    )
    dispatched = last(await timeline(loop, first_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
    lead, case_id = dispatched["detail"]["dept_code"], dispatched["detail"]["case_id"]
    assert lead != OTHER
    second_id = await create(
        loop, ticket("路面坑坑洼洼下雨全是积水", address_in("pd-s07", 0, offset=3), "transport.pothole")
    )
    await timeline(loop, second_id, "cityloop.ticket.merged")

    async with as_department(loop, "router", lead) as mine, as_department(loop, "router", OTHER) as theirs:
        assert (await mine.get(f"/api/v1/routing/{first_id}")).status_code == 200
        other_record = await theirs.get(f"/api/v1/routing/{first_id}")
        assert other_record.status_code == 404
        assert other_record.json()["error"] == "not_found"
        assert first_id not in other_record.text.replace(f"no ticket {first_id}", "")

        assert (await mine.get(f"/api/v1/routing/merges/{case_id}")).status_code == 200
        assert (await theirs.get(f"/api/v1/routing/merges/{case_id}")).status_code == 404
        my_cases = (await mine.get("/api/v1/routing/merges")).json()["items"]
        assert case_id in {c["id"] for c in my_cases}
        their_cases = (await theirs.get("/api/v1/routing/merges")).json()["items"]
        assert case_id not in {c["id"] for c in their_cases}

        submitted = await mine.post(
            "/api/v1/corrections",
            json={
                "change": {
                    "kind": "address_grid",
                    "address": address_in("pd-s07", 0, offset=7),
                    "grid": "pd-s07-c01-g01",
                },
                "reason": "门牌归属有误",
            },
        )
        assert submitted.status_code == 201, submitted.text
        correction_id = submitted.json()["id"]
        assert (await mine.get(f"/api/v1/corrections/{correction_id}")).status_code == 200
        assert (await theirs.get(f"/api/v1/corrections/{correction_id}")).status_code == 404

    async with router_client(loop) as dispatcher:
        assert (await dispatcher.get(f"/api/v1/routing/{first_id}")).status_code == 200
        assert (await dispatcher.get(f"/api/v1/corrections/{correction_id}")).status_code == 200

    async with as_department(loop, "sla", lead) as mine, as_department(loop, "sla", OTHER) as theirs:
        clocks = await deadlines_of(mine, first_id)
        assert {c["dept_code"] for c in clocks["clocks"]} == {lead}
        assert (await theirs.get(f"/api/v1/deadlines/tickets/{first_id}")).status_code == 404

    async with as_department(loop, "feedback", OTHER) as theirs:
        assert (await theirs.get(f"/api/v1/callbacks/{first_id}")).status_code == 404
    async with as_department(loop, "feedback", lead) as mine:
        # No callback is opened before the ticket is resolved: the lead sees none of its own either.
        assert (await mine.get(f"/api/v1/callbacks/{first_id}")).status_code == 404
