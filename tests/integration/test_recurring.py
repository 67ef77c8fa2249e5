"""Data flowing back: repeated requests about one place and category flag a recurring problem, and a
supervisor turns it into a proactive ticket (主动发现) that intake creates and router dispatches."""

import asyncio
import uuid
from typing import Any

import httpx

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.feedback.recurring import flows as recurring_flows
from tests.integration.conftest import SECRET, Loop
from tests.integration.places import hp_address
from tests.integration.routing_support import timeline
from tests.integration.test_skeleton_loop import wait_for_timeline
from tests.stand_ins import lifecycle


def feedback_as(loop: Loop, role: Role) -> httpx.AsyncClient:
    header = encode_identity(Identity(subject=f"supervisor-{role.value}", role=role), SECRET)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["feedback"]), base_url="http://feedback", headers={HEADER: header}
    )


async def problem_with(client: httpx.AsyncClient, tickets: set[str]) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            response = await client.get("/api/v1/scores/recurring", params={"limit": 500})
            assert response.status_code == 200, response.text
            for problem in response.json()["items"]:
                if tickets <= set(problem["tickets"]):
                    return dict(problem)
            await asyncio.sleep(0.2)


async def test_a_recurring_problem_becomes_a_proactive_ticket(loop: Loop) -> None:
    address = hp_address()
    ticket = {
        "channel": "hotline",
        "citizen": {"name": "李四", "phone": "13900001111"},
        "category": "sanitation.garbage",
        "description": "路边堆了一大堆生活垃圾没人清理",
        "location": {"address": address},
    }
    ids = []
    for _ in range(3):  # the same matter at the same place, three times: one case, two merged (并单)
        created = await loop.intake.post("/api/v1/tickets", json=ticket)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    # Router applies partitions side by side, so the case's lead is whichever ticket it reached first.
    outcomes = ("cityloop.ticket.dispatched", "cityloop.ticket.merged")
    routed = [next(e for e in await timeline(loop, t, outcomes) if e["type"] in outcomes) for t in ids]
    assert sorted(e["type"] for e in routed) == sorted([outcomes[0], outcomes[1], outcomes[1]]), routed
    lead_dept = next(e for e in routed if e["type"] == outcomes[0])["detail"]["dept_code"]

    async with feedback_as(loop, Role.COMMAND_CENTRE) as command:
        problem = await problem_with(command, set(ids))
    assert problem["status"] == "open"
    assert (problem["category"], problem["reason"], problem["requests"]) == ("sanitation.garbage", "requests", 3)
    assert problem["place_level"] == "grid"
    assert problem["dept_code"] == lead_dept

    # feedback reaches the gateway in-process here, as it would over the network.
    feedback_app = loop.apps["feedback"]
    real_gateway = feedback_app.state.gateway
    feedback_app.state.gateway = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["intake"], client=("127.0.0.1", 50001)), base_url="http://intake"
    )
    try:
        async with feedback_as(loop, Role.AUDITOR) as auditor:
            refused = await auditor.post(f"/api/v1/scores/recurring/{problem['id']}/proactive")
            assert refused.status_code == 403
        async with feedback_as(loop, Role.DISPATCHER) as supervisor:
            converted = await supervisor.post(f"/api/v1/scores/recurring/{problem['id']}/proactive")
            assert converted.status_code == 200, converted.text
            again = await supervisor.post(f"/api/v1/scores/recurring/{problem['id']}/proactive")
            missing = await supervisor.post("/api/v1/scores/recurring/999999999/proactive")
    finally:
        await feedback_app.state.gateway.aclose()
        feedback_app.state.gateway = real_gateway
    proactive_id = converted.json()["ticket_id"]
    assert converted.json()["created"] is True
    assert again.json() == {"problem_id": problem["id"], "ticket_id": proactive_id, "created": False}
    assert missing.status_code == 404

    created = (await loop.intake.get(f"/api/v1/tickets/{proactive_id}")).json()
    assert (created["channel"], created["category"]) == ("proactive", "sanitation.garbage")
    assert "主动发现" in created["description"]
    # Routed like any ticket, to the department responsible for that place; its own task, not merged.
    trail = await wait_for_timeline(loop.intake, proactive_id, "cityloop.ticket.dispatched")
    dispatched = next(e for e in trail if e["type"] == "cityloop.ticket.dispatched")
    assert dispatched["detail"]["dept_code"] == lead_dept
    async with feedback_as(loop, Role.COMMAND_CENTRE) as command:
        converted_list = (await command.get("/api/v1/scores/recurring", params={"status": "converted"})).json()
    assert any(p["id"] == problem["id"] and p["ticket_id"] == proactive_id for p in converted_list["items"])


async def test_duplicates_count_before_their_case_lead_is_dispatched(loop: Loop) -> None:
    """Router applies partitions side by side, so feedback may see a duplicate's ``merged`` before its case
    lead's ``dispatched``: the duplicate is still a request, counted at the place its own event carries."""
    lead = f"T-lead-{uuid.uuid4().hex[:8]}"
    place = {"chain": {"district": "hp", "street": "hp-s01", "grid": f"hp-s01-g{uuid.uuid4().hex[:6]}"}}
    duplicates = [f"T-dup-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    async with loop.runtime("feedback").pool.acquire() as conn:
        for ticket_id in duplicates:
            merged = lifecycle(
                "/cityloop/router",
                types.TICKET_MERGED,
                ticket_id,
                TicketStatus.DISPATCHED,
                {
                    "case_id": f"C-{lead}",
                    "merged_into": lead,
                    "dept_code": "hp-sanitation",
                    "category": "sanitation.garbage",
                    "location": place,
                },
            )
            async with conn.transaction():
                await recurring_flows.on_lifecycle(conn, merged)
        problem = await conn.fetchrow(
            "SELECT reason, requests, tickets, dept_code FROM recurring_problems WHERE place = $1",
            place["chain"]["grid"],
        )
    assert problem is not None
    assert (problem["reason"], problem["requests"], problem["dept_code"]) == ("requests", 3, "hp-sanitation")
    assert sorted(problem["tickets"]) == sorted(duplicates)
