"""Sending the same event twice changes nothing the second time; a stranger's update changes nothing."""

from cityloop.common.envelope import CloudEvent
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem, cloud_event
from tests.integration.conftest import Loop
from tests.integration.dlq_support import by_event_id, dead_letters
from tests.integration.test_skeleton_loop import fresh_ticket, wait_for_timeline


async def test_duplicate_department_event_is_applied_once(loop: Loop) -> None:
    ticket_id = (await loop.intake.post("/api/v1/tickets", json=fresh_ticket())).json()["id"]
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket_id)
        accepted = await dept.answer(task, "cityloop.dept.accepted")
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.accepted")
        await dept.send(accepted)  # the very same event again (same id): a redelivery
        # A later event proves the duplicate was consumed before we look.
        await dept.answer(task, "cityloop.dept.progress", note="处理中")
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.progress")
        trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadline_met")
    types_seen = [e["type"] for e in trail]
    assert types_seen.count("cityloop.ticket.accepted") == 1
    assert types_seen.count("cityloop.sla.deadline_met") == 1


async def test_redelivered_event_is_a_no_op_in_the_consumer(loop: Loop) -> None:
    ticket_id = (await loop.intake.post("/api/v1/tickets", json=fresh_ticket())).json()["id"]
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket_id)
    consumer = loop.runtime("router").consumers["router.dept-updates"]
    event = CloudEvent.model_validate(
        cloud_event(
            "cityloop.dept.accepted",
            {"ticket_id": ticket_id, "assignment_id": task["data"]["assignment_id"], "dept_code": "pd-sanitation"},
        )
    )
    assert await consumer.apply(event) is True
    pool = loop.runtime("router").pool
    before = await pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", ticket_id)
    assert await consumer.apply(event) is False
    after = await pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", ticket_id)
    assert before == after
    assert await pool.fetchval("SELECT status FROM assignments WHERE ticket_id = $1", ticket_id) == "accepted"


async def test_update_from_a_department_without_the_assignment_goes_to_dlq(loop: Loop) -> None:
    ticket_id = (await loop.intake.post("/api/v1/tickets", json=fresh_ticket())).json()["id"]
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as owner:
        task = await owner.next_task(ticket_id)
    # The trail has caught up with the dispatch before the stranger speaks, so "unchanged" means something.
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.dispatched")
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "hp-sanitation") as stranger:
        forged = await stranger.answer(task, "cityloop.dept.resolved", note="不是我们的")
    dead = by_event_id(await dead_letters("dept.updates.dlq", lambda records: forged["id"] in by_event_id(records)))
    assert b"does not hold assignment" in dict(dead[forged["id"]].headers)["cityloop-dlq-reason"]
    pool = loop.runtime("router").pool
    assert await pool.fetchval("SELECT status FROM assignments WHERE ticket_id = $1", ticket_id) == "assigned"
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "dispatched"
