"""The walking skeleton: a ticket travels the whole loop through the real broker and database."""

import asyncio
import itertools
from typing import Any

import httpx

from cityloop.router.data.files import city_files
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop

TICKET = {
    "channel": "hotline",
    "citizen": {"name": "张三", "phone": "13812341234"},
    "category": "sanitation.garbage",
    "description": "小区门口垃圾三天没人清运，气味很大",
    "location": {"address": "浦东新区花木街道锦绣路1001号"},
}


_PD_STREETS = itertools.count(2)


def fresh_ticket() -> dict[str, Any]:
    """TICKET somewhere else in 浦东 each time: identical tickets at one place would be merged (并单)."""
    street = f"pd-s{next(_PD_STREETS):02d}"
    grid = next((g for g in city_files().grids if g.code.startswith(f"{street}-")), None)
    if grid is None:  # a StopIteration here surfaced as "coroutine raised StopIteration" in whichever test came last
        raise RuntimeError(f"fresh_ticket: 浦东's streets are used up at {street}; take a place from places.py")
    return {**TICKET, "location": {"address": f"浦东新区{grid.road}{grid.num_lo}号"}}


async def wait_for_timeline(
    client: httpx.AsyncClient, ticket_id: str, event_type: str, *, count: int = 1
) -> list[dict[str, Any]]:
    """The trail once it holds ``count`` events of ``event_type`` (services append concurrently)."""
    async with asyncio.timeout(30):
        while True:
            response = await client.get(f"/api/v1/tickets/{ticket_id}/timeline")
            assert response.status_code == 200
            trail: list[dict[str, Any]] = response.json()
            if sum(e["type"] == event_type for e in trail) >= count:
                return trail
            await asyncio.sleep(0.1)


def positions(trail: list[dict[str, Any]]) -> dict[str, int]:
    return {e["type"]: i for i, e in enumerate(trail)}


async def test_ticket_travels_the_whole_loop(loop: Loop) -> None:
    created = await loop.intake.post("/api/v1/tickets", json=TICKET)
    assert created.status_code == 201, created.text
    ticket = created.json()
    ticket_id = ticket["id"]
    assert ticket["status"] == "received"
    assert ticket["citizen"]["phone"] == "138****1234"

    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket_id)
        assert task["type"] == "cityloop.task.assigned"
        assert task["specversion"] == "1.0"
        data = task["data"]
        assert data["dept_code"] == "pd-sanitation"
        assert data["role"] == "lead"
        assert data["category"] == "sanitation.garbage"
        assert data["citizen"]["phone"] == "138****1234"
        assert data["deadlines"] is None  # sla owns deadlines: they follow as a task update

        deadlines = await dept.next_deadlines(ticket_id)
        assert (deadlines["type"], deadlines["data"]["change"]) == ("cityloop.task.updated", "deadline_set")
        assert deadlines["data"]["deadlines"]["accept_by"] < deadlines["data"]["deadlines"]["resolve_by"]
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadlines_set")
        await dept.answer(task, "cityloop.dept.accepted", note="已签收，联系市民")
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.accepted")
        await dept.answer(task, "cityloop.dept.resolved", note="已清运")

    await wait_for_timeline(loop.intake, ticket_id, "cityloop.callback.opened")
    # sla's "resolve met" and feedback's "callback opened" both follow the resolution, in either order.
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadline_met", count=2)
    at = positions(trail)
    # Causal order of the loop; sla's events interleave but never before what caused them.
    assert (
        at["cityloop.ticket.created"]
        < at["cityloop.ticket.dispatched"]
        < at["cityloop.ticket.accepted"]
        < at["cityloop.ticket.resolved"]
        < at["cityloop.callback.opened"]
    )
    assert at["cityloop.ticket.dispatched"] < at["cityloop.sla.deadlines_set"]
    met = [e["detail"]["kind"] for e in trail if e["type"] == "cityloop.sla.deadline_met"]
    assert met == ["accept", "resolve"]
    assert len({e["event_id"] for e in trail}) == len(trail)

    final = (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()
    assert final["status"] == "resolved"
    assert final["dept_code"] == "pd-sanitation"

    due = (await loop.feedback.get("/api/v1/callbacks/due", params={"limit": 500})).json()
    assert ticket_id in {c["ticket_id"] for c in due["items"]}

    recorded = await loop.feedback.post(
        f"/api/v1/callbacks/{ticket_id}/outcome",
        json={"solved": True, "satisfaction": "satisfied", "recorded_by": "op-7"},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["reopened"] is False
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.closed")
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "closed"
    assert positions(trail)["cityloop.callback.recorded"] < positions(trail)["cityloop.ticket.closed"]
    # The actor is the signed identity, not the name the body claims.
    recorded_entry = next(e for e in trail if e["type"] == "cityloop.callback.recorded")
    assert recorded_entry["actor"] == "dispatcher"
