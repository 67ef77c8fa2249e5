"""退单 over the real broker: reject -> re-dispatch to the suggested owner -> second reject -> arbitration,
final; the whole trail recorded; a rejection without a suggested owner is refused to the DLQ."""

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, router_client, ticket, timeline


async def dlq_reason(event_id: str) -> bytes:
    dlq = AIOKafkaConsumer(f"{TOPIC_PREFIX}dept.updates.dlq", bootstrap_servers=KAFKA, auto_offset_reset="earliest")
    await dlq.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await dlq.getmany(timeout_ms=500)).values():
                    for record in records:
                        # By the DLQ's event-id header: other tests' poison messages here are not JSON.
                        headers = dict(record.headers)
                        if headers.get("cityloop-dlq-event-id") == event_id.encode():
                            reason: bytes = headers["cityloop-dlq-reason"]
                            return reason
    finally:
        await dlq.stop()


async def test_reject_redispatch_reject_arbitration_with_the_full_trail(loop: Loop) -> None:
    body = ticket("有人晚上偷偷倒建筑垃圾在空地上", address_in("pd-s03"), "sanitation.construction-waste")
    ticket_id = await create(loop, body)
    async with (
        DeptSystem(KAFKA, TOPIC_PREFIX, "pd-s03-enforcement") as squad,
        DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as bureau,
    ):
        first = await squad.next_task(ticket_id)
        assist = await bureau.next_task(ticket_id)
        assert (first["data"]["role"], assist["data"]["role"]) == ("lead", "assist")

        # 1st 退单: the squad says it is the bureau's; the catalogue allows the bureau to own it -> 改派.
        await squad.answer(first, "cityloop.dept.rejected", reason="渣土偷倒属市容部门", suggested_dept="pd-sanitation")
        withdrawn = await bureau.next_task(ticket_id)
        assert withdrawn["type"] == "cityloop.task.withdrawn"  # its assist task: it now leads
        second = await bureau.next_task(ticket_id)
        assert (second["type"], second["data"]["role"]) == ("cityloop.task.assigned", "lead")

        # 2nd 退单: no more automatic bouncing, a dispatcher arbitrates.
        await bureau.answer(
            second, "cityloop.dept.rejected", reason="应由执法中队处理", suggested_dept="pd-s03-enforcement"
        )
        await timeline(loop, ticket_id, "cityloop.ticket.needs_dispatcher")

        async with router_client(loop, "disp-9") as router:
            queue = (await router.get("/api/v1/routing/queue", params={"reason": "arbitration", "limit": 500})).json()
            assert ticket_id in {i["ticket_id"] for i in queue["items"]}
            refused = await router.post(f"/api/v1/routing/{ticket_id}/correct", json={"dept_code": "pd-sanitation"})
            assert refused.status_code == 409
            decided = await router.post(
                f"/api/v1/routing/{ticket_id}/arbitrate",
                json={"dept_code": "pd-s03-enforcement", "note": "偷倒现场在街面，先由执法中队查处"},
            )
            assert decided.status_code == 200, decided.text
            final = await squad.next_task(ticket_id)
            assert final["type"] == "cityloop.task.assigned"

            # The arbitrated owner cannot bounce it again.
            bounced = await squad.answer(
                final, "cityloop.dept.rejected", reason="还是不归我们", suggested_dept="pd-sanitation"
            )
            assert b"final" in await dlq_reason(bounced["id"])
            record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()

    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched", count=3)
    steps = [
        (e["type"].rsplit(".", 1)[-1], e["detail"].get("dept_code"))
        for e in trail
        if e["type"].startswith("cityloop.ticket.")
    ]
    assert steps == [
        ("created", None),
        ("dispatched", "pd-s03-enforcement"),
        ("rejected", "pd-s03-enforcement"),
        ("dispatched", "pd-sanitation"),
        ("rejected", "pd-sanitation"),
        ("needs_dispatcher", None),
        ("dispatched", "pd-s03-enforcement"),
    ]
    rejected = [e["detail"] for e in trail if e["type"] == "cityloop.ticket.rejected"]
    assert [(r["outcome"], r["rejections"]) for r in rejected] == [("redispatch", 1), ("arbitration", 2)]
    redispatch = [e for e in trail if e["type"] == "cityloop.ticket.dispatched"][1]["detail"]
    assert redispatch["replaces"] == [first["data"]["assignment_id"]]
    assert "改派" in redispatch["why"]["rule"]
    arbitration: dict[str, Any] = [e for e in trail if e["type"] == "cityloop.ticket.dispatched"][2]["detail"]
    assert arbitration["final"] is True
    assert arbitration["arbitration"]["decided_by"] == "disp-9"
    assert [r["dept_code"] for r in arbitration["arbitration"]["rejections"]] == ["pd-s03-enforcement", "pd-sanitation"]
    assert [e["actor"] for e in trail if e["type"] == "cityloop.ticket.dispatched"][2] == "dispatcher:disp-9"

    assert record["status"] == "dispatched"
    assert [(a["dept_code"], a["role"], a["status"]) for a in record["assignments"]] == [
        ("pd-s03-enforcement", "lead", "rejected"),
        ("pd-sanitation", "assist", "withdrawn"),
        ("pd-sanitation", "lead", "rejected"),
        ("pd-s03-enforcement", "lead", "assigned"),
        ("pd-sanitation", "assist", "assigned"),  # the catalogue's 协办 again, under the arbitrated lead
    ]
    assert record["assignments"][-2]["final"] is True
    assert len(record["rejections"]) == 2


async def test_a_rejection_must_name_a_suggested_owner(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("绿化带里有动物尸体腐烂了", address_in("js-s02"), "sanitation.dead-animal"))
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "js-sanitation") as dept:
        task = await dept.next_task(ticket_id)
        rejected = await dept.answer(task, "cityloop.dept.rejected", reason="不归我们管")
    assert b"suggested_dept" in await dlq_reason(rejected["id"])
    async with router_client(loop) as router:
        record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()
    assert record["assignments"][0]["status"] == "assigned"
    assert record["rejections"] == []
