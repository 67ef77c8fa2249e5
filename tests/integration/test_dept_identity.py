"""Department identity on Kafka (issue 11): router takes the sender of an update from the topic it came on
(``dept.<code>.updates``), not from the ``dept_code`` written inside. Department B answering for A's
assignment on its own topic is refused to ``dept.updates.dlq`` with the reason and changes nothing, whether
it names itself or poses as A; A on its own topic is applied; the shared ``dept.updates`` of the first
release is still read during its transition. (That B cannot even write A's topic is the broker's part:
tests/integration/test_kafka_acls.py.)"""

import json

from aiokafka import AIOKafkaProducer

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem, cloud_event
from tests.integration.conftest import Loop
from tests.integration.dlq_support import by_event_id, dead_letters
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline

OTHER = "hp-sanitation"


async def dlq_reasons(event_ids: set[str]) -> dict[str, str]:
    """The DLQ's reason for each of ``event_ids``, by event id (waits until all are there)."""
    records = await dead_letters(
        "dept.updates.dlq", lambda records: event_ids <= by_event_id(records).keys(), seconds=60
    )
    reasons = {}
    for event_id, record in by_event_id(records).items():
        if event_id in event_ids:
            headers = dict(record.headers)
            assert headers["cityloop-dlq-source"].decode().startswith(f"{TOPIC_PREFIX}dept.{OTHER}.updates/")
            reasons[event_id] = headers["cityloop-dlq-reason"].decode()
    return reasons


async def assignment_status(loop: Loop, ticket_id: str, assignment_id: str) -> str:
    async with router_client(loop, "disp-1") as router:
        record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()
    statuses = [a["status"] for a in record["assignments"] if a["id"] == assignment_id]
    assert len(statuses) == 1, record
    return str(statuses[0])


async def test_the_sender_is_the_topic_another_department_cannot_answer_for_the_holder(loop: Loop) -> None:
    body = ticket("马路中间有个大坑电动车差点摔倒", address_in("pd-s05", 2), "transport.pothole")
    ticket_id = await create(loop, body)
    dispatched = last(await timeline(loop, ticket_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
    holder = dispatched["detail"]["dept_code"]
    assert holder != OTHER
    async with DeptSystem(KAFKA, TOPIC_PREFIX, holder) as dept_a, DeptSystem(KAFKA, TOPIC_PREFIX, OTHER) as dept_b:
        task = await dept_a.next_task(ticket_id)
        ids = {"ticket_id": ticket_id, "assignment_id": task["data"]["assignment_id"]}
        assert dept_b.updates_topic == f"{TOPIC_PREFIX}dept.{OTHER}.updates"

        # B, on its own topic: once honestly as itself, once posing as the holder A.
        as_itself = cloud_event("cityloop.dept.accepted", {**ids, "dept_code": OTHER})
        posing = cloud_event("cityloop.dept.resolved", {**ids, "dept_code": holder, "note": "已处理"})
        await dept_b.send(as_itself)
        await dept_b.send(posing)
        reasons = await dlq_reasons({as_itself["id"], posing["id"]})
        assert f"department {OTHER} does not hold assignment" in reasons[as_itself["id"]]
        assert f"dept_code {holder} sent on dept.{OTHER}.updates" in reasons[posing["id"]]

        # Refused means nothing changed: the assignment is still only assigned, the trail has no step of B's.
        assert await assignment_status(loop, ticket_id, ids["assignment_id"]) == "assigned"
        trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
        assert not [e for e in trail if e["type"] in ("cityloop.ticket.accepted", "cityloop.ticket.resolved")]

        # A on its own topic is applied.
        await dept_a.answer(task, "cityloop.dept.accepted")
        accepted = last(await timeline(loop, ticket_id, "cityloop.ticket.accepted"), "cityloop.ticket.accepted")
        assert accepted["detail"]["dept_code"] == holder

        # During the transition the shared dept.updates is still read, under the old rule (dept_code inside).
        legacy = cloud_event("cityloop.dept.progress", {**ids, "dept_code": holder, "note": "已到现场"})
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{TOPIC_PREFIX}dept.updates", json.dumps(legacy).encode(), key=ticket_id.encode()
            )
        finally:
            await producer.stop()
        await timeline(loop, ticket_id, "cityloop.ticket.progress")

    assert await assignment_status(loop, ticket_id, ids["assignment_id"]) == "accepted"
    trail = await timeline(loop, ticket_id, "cityloop.ticket.accepted")
    assert [e["type"] for e in trail].count("cityloop.ticket.accepted") == 1
    assert "cityloop.ticket.resolved" not in {e["type"] for e in trail}
