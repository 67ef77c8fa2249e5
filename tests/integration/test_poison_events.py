"""Poison and hostile messages on dept.updates each go to the DLQ with their reason, and router's consumer
keeps going: a valid update sent after all of them is applied.

The rest of issue 13's list is tested elsewhere: a replayed old event is a no-op
(test_exactly_once.py, and replaying a DLQ entry twice in test_dlq_tool.py)."""

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import KAFKA, MAX_MESSAGE_BYTES, TOPIC_PREFIX
from tests.dept_system import DeptSystem, cloud_event
from tests.integration.conftest import Loop
from tests.integration.routing_support import create, timeline
from tests.integration.test_skeleton_loop import fresh_ticket

Build = Callable[[dict[str, Any]], bytes]


def update(type_: str, **data: Any) -> dict[str, Any]:
    return cloud_event(type_, {"dept_code": "pd-sanitation", **data})


def as_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# name -> (message from the real task, part of the reason the DLQ must carry)
CASES: dict[str, tuple[Build, str]] = {
    "malformed JSON": (lambda _task: b'{"specversion": "1.0", "id": ', ""),
    "wrong envelope": (lambda _task: as_bytes({"hello": "world"}), ""),
    "future specversion": (
        lambda task: as_bytes({**update("cityloop.dept.accepted", **_ids(task)), "specversion": "2.0"}),
        "specversion",
    ),
    "unknown type": (
        lambda task: as_bytes(update("cityloop.dept.teleported", **_ids(task))),
        "unknown department update type",
    ),
    "over the size limit": (
        lambda task: as_bytes(update("cityloop.dept.progress", **_ids(task), note="x" * MAX_MESSAGE_BYTES)),
        f"exceeds the limit of {MAX_MESSAGE_BYTES}",
    ),
    "unknown ticket": (
        lambda task: as_bytes(update("cityloop.dept.accepted", ticket_id="T00000000-9999999", assignment_id="A-x")),
        "no assignment",
    ),
    "update before its task": (
        lambda task: as_bytes(
            update("cityloop.dept.accepted", ticket_id=task["data"]["ticket_id"], assignment_id=f"A-{uuid.uuid4()}")
        ),
        "no assignment",
    ),
    "foreign assignment": (
        lambda task: as_bytes(
            {**update("cityloop.dept.resolved", **_ids(task)), "data": {**_ids(task), "dept_code": "hp-sanitation"}}
        ),
        "does not hold assignment",
    ),
}


def _ids(task: dict[str, Any]) -> dict[str, Any]:
    return {"ticket_id": task["data"]["ticket_id"], "assignment_id": task["data"]["assignment_id"]}


async def test_poison_and_hostile_updates_are_dead_lettered_with_a_reason_and_the_consumer_goes_on(
    loop: Loop,
) -> None:
    ticket_id = await create(loop, fresh_ticket())
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket_id)
        await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
        dlq = AIOKafkaConsumer(
            f"{TOPIC_PREFIX}dept.updates.dlq", bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None
        )
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
        await dlq.start()
        await producer.start()
        try:
            keys = {}
            for name, (build, _) in CASES.items():
                key = f"poison-{uuid.uuid4()}"
                keys[key.encode()] = name
                await producer.send_and_wait(f"{TOPIC_PREFIX}dept.updates", build(task), key=key.encode())
            await dept.answer(task, "cityloop.dept.accepted")  # valid, after all the poison
            reasons: dict[str, str] = {}
            async with asyncio.timeout(60):
                while len(reasons) < len(CASES):
                    for records in (await dlq.getmany(timeout_ms=500)).values():
                        for record in records:
                            if record.key in keys:
                                reasons[keys[record.key]] = dict(record.headers)["cityloop-dlq-reason"].decode()
        finally:
            await producer.stop()
            await dlq.stop()
        await timeline(loop, ticket_id, "cityloop.ticket.accepted")
    for name, (_, expected) in CASES.items():
        assert reasons[name], name
        assert expected in reasons[name], (name, reasons[name])
