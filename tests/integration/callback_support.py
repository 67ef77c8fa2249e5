"""Helpers for the callback tests: operators with a signed identity, a department that answers, the DLQs."""

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.topics import dept_tasks
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import SECRET, Loop
from tests.integration.test_skeleton_loop import fresh_ticket, wait_for_timeline

DEPT = "pd-sanitation"


def operator(loop: Loop, subject: str, role: Role = Role.CALL_TAKER) -> httpx.AsyncClient:
    """feedback as the gateway calls it for the signed-in ``subject``."""
    header = encode_identity(Identity(subject=subject, role=role), SECRET)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["feedback"]), base_url="http://feedback", headers={HEADER: header}
    )


async def department(loop: Loop, dept_code: str = DEPT) -> DeptSystem:
    """An outside department's system. Router creates a department's task topic with its first task; the
    topic is made here first so the department can start listening before that."""
    await loop.runtime("router").ensure_topics([dept_tasks(dept_code)])
    return DeptSystem(KAFKA, TOPIC_PREFIX, dept_code)


async def due_ids(client: httpx.AsyncClient, **params: str | int) -> set[str]:
    """The tickets on one page (500) of the due list filtered by ``params``."""
    response = await client.get("/api/v1/callbacks/due", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return {c["ticket_id"] for c in response.json()["items"]}


async def next_task_where(
    dept: DeptSystem, ticket_id: str, matches: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The next task event of ``ticket_id`` that ``matches``, skipping the others (deadline notices ...)."""
    while True:
        task = await dept.next_task(ticket_id)
        if matches(task):
            return task


def is_rehandle(task: dict[str, Any]) -> bool:
    return bool(task["type"] == "cityloop.task.updated" and task["data"]["change"] == "rehandle")


async def new_resolved_ticket(loop: Loop, dept: DeptSystem) -> tuple[str, dict[str, Any]]:
    """A ticket the department accepted and resolved, with its callback due; (ticket id, its task)."""
    created = await loop.intake.post("/api/v1/tickets", json=fresh_ticket())
    assert created.status_code == 201, created.text
    ticket_id: str = created.json()["id"]
    task = await next_task_where(dept, ticket_id, lambda t: t["type"] == "cityloop.task.assigned")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadlines_set")
    await dept.answer(task, "cityloop.dept.accepted", note="已签收")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.accepted")
    await dept.answer(task, "cityloop.dept.resolved", note="已清运")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.callback.opened")
    return ticket_id, task


async def handle_again(loop: Loop, dept: DeptSystem, ticket_id: str, round_: int) -> dict[str, Any]:
    """The department hears 重办, accepts and resolves again; returns the rehandle notice it got."""
    notice = await next_task_where(dept, ticket_id, is_rehandle)
    await dept.answer(notice, "cityloop.dept.accepted", note="重新签收")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.accepted", count=round_)
    await dept.answer(notice, "cityloop.dept.resolved", note="已重新处理")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.callback.opened", count=round_)
    return notice


async def dead_letters_about(ticket_id: str) -> list[tuple[str, bytes]]:
    """Every record in any DLQ keyed by ``ticket_id``: (topic, reason), read to the current end."""
    topics = [f"{TOPIC_PREFIX}dept.updates.dlq", f"{TOPIC_PREFIX}ticket.lifecycle.dlq"]
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=KAFKA, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[str, bytes]] = []
    try:
        async with asyncio.timeout(120):  # a busy shared broker is slow to hand out new topics' metadata
            while len({tp.topic for tp in consumer.assignment()}) < len(topics):
                await consumer.getmany(timeout_ms=500)
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(60):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    for record in records:
                        key = record.key.decode() if record.key else json.loads(record.value).get("subject")
                        if key == ticket_id:
                            found.append((tp.topic, dict(record.headers).get("cityloop-dlq-reason", b"")))
    finally:
        await consumer.stop()
    return found
