"""三率 fed by the real services: router's dispatch, sla's accept clock and a department's acceptance
reach the scores, and the department reads its own and its district's."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.feedback.scores.rules import city_day
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import SECRET, Loop
from tests.integration.places import hp_address
from tests.integration.test_skeleton_loop import wait_for_timeline


def scores_as(loop: Loop, role: Role, dept_code: str | None = None) -> httpx.AsyncClient:
    header = encode_identity(Identity(subject=f"reader-{role.value}", role=role, dept_code=dept_code), SECRET)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["feedback"]), base_url="http://feedback", headers={HEADER: header}
    )


async def counted(client: httpx.AsyncClient, params: dict[str, str], ticket_id: str) -> list[dict[str, Any]]:
    """The drill-down rows of ``ticket_id`` once the ticket counts (the consumer follows the trail)."""
    async with asyncio.timeout(30):
        while True:
            response = await client.get("/api/v1/scores/tickets", params={**params, "limit": "5000"})
            assert response.status_code == 200, response.text
            rows = [r for r in response.json()["items"] if r["ticket_id"] == ticket_id]
            if rows:
                return rows
            await asyncio.sleep(0.2)


async def test_an_accepted_task_counts_for_its_department_and_areas(loop: Loop) -> None:
    body = {
        "channel": "hotline",
        "citizen": {"name": "王五", "phone": "13700002222"},
        "category": "sanitation.garbage",
        "description": "垃圾桶满了溢出来也没人来收",
        "location": {"address": hp_address()},
    }
    created = await loop.intake.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadlines_set")
    dispatched = next(e for e in trail if e["type"] == "cityloop.ticket.dispatched")["detail"]
    dept, district = dispatched["dept_code"], dispatched["location"]["chain"]["district"]
    assert dispatched["dept_area"]["district"] == district
    async with DeptSystem(KAFKA, TOPIC_PREFIX, dept) as system:
        task = await system.next_task(ticket_id)
        await system.answer(task, "cityloop.dept.accepted", note="已签收")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadline_met")

    today = city_day(datetime.now(UTC)).isoformat()
    async with scores_as(loop, Role.AUDITOR) as auditor:
        rows = await counted(auditor, {"by": "department", "key": dept, "period": "day", "date": today}, ticket_id)
        assert rows[0]["counts_in"] == ["response_denominator", "response_numerator"]
        item = next(
            i
            for i in (
                await auditor.get("/api/v1/scores", params={"by": "department", "period": "day", "date": today})
            ).json()["items"]
            if i["key"] == dept
        )
        assert item["response_numerator"] >= 1
    async with scores_as(loop, Role.DEPARTMENT, dept) as own:
        areas = (await own.get("/api/v1/scores", params={"by": "district", "period": "month", "date": today})).json()
        assert [i["key"] for i in areas["items"]] == [district]
        assert (await own.get("/api/v1/scores", params={"by": "department", "period": "month", "date": today})).json()[
            "items"
        ][0]["key"] == dept
