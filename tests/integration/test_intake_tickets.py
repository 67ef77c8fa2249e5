"""Creating, reading, searching tickets through the gateway, on the real broker and database."""

import asyncio
import copy
import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import TICKET_LIFECYCLE
from tests import stand_ins
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.places import hp_address
from tests.integration.test_skeleton_loop import TICKET, wait_for_timeline


def ticket(**changes: Any) -> dict[str, Any]:
    """TICKET at a place of its own (so router never merges it), with ``changes``."""
    body = copy.deepcopy(TICKET)
    body["location"] = {"address": hp_address()}
    body.update(changes)
    return body


def marker() -> str:
    return f"批次{uuid.uuid4().hex[:10]}"


# (what is wrong, how to break a valid body, the field the error must name)
INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("channel missing", {"channel": None}, "channel"),
    ("channel unknown", {"channel": "fax"}, "channel"),
    ("description empty", {"description": ""}, "description"),
    ("description too long", {"description": "很" * 4001}, "description"),
    ("location missing", {"location": None}, "location"),
    ("location empty", {"location": {}}, "location.address"),
    ("lat without lon", {"location": {"lat": 31.2}}, "location.lon"),
    ("lat out of range", {"location": {"lat": 91, "lon": 121.4}}, "location.lat"),
    ("phone not a phone", {"citizen": {"phone": "call me"}}, "citizen.phone"),
    ("id number malformed", {"citizen": {"id_number": "12345"}}, "citizen.id_number"),
    # Issue 11: real numbers only (phonenumbers; python-stdnum cn.ric checks the birth date and check digit).
    ("mobile number that does not exist", {"citizen": {"phone": "10012345678"}}, "citizen.phone"),
    ("phone too short", {"citizen": {"phone": "1381234"}}, "citizen.phone"),
    ("id number with a wrong check digit", {"citizen": {"id_number": "310101199001011235"}}, "citizen.id_number"),
    ("id number born on 13/13", {"citizen": {"id_number": "310101199013131234"}}, "citizen.id_number"),
    ("company without its name", {"citizen": {"is_company": True}}, "citizen.company"),
    ("email malformed", {"citizen": {"email": "nobody"}}, "citizen.email"),
    ("unknown citizen field", {"citizen": {"age": 40}}, "citizen.age"),
    ("urgency unknown", {"urgency": "whenever"}, "urgency"),
    ("attachment not a URL", {"attachments": ["not a url"]}, "attachments.0"),
    ("too many attachments", {"attachments": [f"https://f.example.cn/{i}.jpg" for i in range(21)]}, "attachments"),
    ("category too long", {"category": "x" * 65}, "category"),
    ("direct answer empty", {"direct_answer": {"answer": ""}}, "direct_answer.answer"),
    ("unknown field", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "change", "field"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
async def test_every_invalid_field_is_named(loop: Loop, case: str, change: dict[str, Any], field: str) -> None:
    body = ticket()
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = await loop.intake.post("/api/v1/tickets", json=body)
    assert response.status_code == 422, (case, response.text)
    error = response.json()
    assert error["error"] == "validation_failed"
    assert field in [f["field"] for f in error["fields"]], (case, error)
    assert all(f["problem"] for f in error["fields"])


INVALID_QUERIES: list[tuple[str, dict[str, str], str]] = [
    ("status unknown", {"status": "lost"}, "status.0"),
    ("limit too big", {"limit": "1000"}, "limit"),
    ("date not a date", {"created_from": "yesterday"}, "created_from"),
    ("range backwards", {"created_from": "2026-02-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"}, "created_from"),
    ("cursor forged", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ("unknown filter", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("case", "query", "field"), INVALID_QUERIES, ids=[c[0] for c in INVALID_QUERIES])
async def test_every_invalid_filter_is_named(loop: Loop, case: str, query: dict[str, str], field: str) -> None:
    response = await loop.intake.get("/api/v1/tickets", params=query)
    assert response.status_code == 422, (case, response.text)
    assert field in [f["field"] for f in response.json()["fields"]], (case, response.json())


async def test_bad_idempotency_key_and_unauthenticated_and_forbidden_are_4xx(loop: Loop) -> None:
    long_key = await loop.intake.post("/api/v1/tickets", json=ticket(), headers={"Idempotency-Key": "k" * 201})
    assert long_key.status_code == 422
    assert long_key.json()["fields"][0]["field"] == "idempotency-key"
    async with loop.anonymous() as anonymous:
        nobody = await anonymous.post("/api/v1/tickets", json=ticket())
    assert nobody.status_code == 401
    assert nobody.json()["error"] == "unauthenticated"
    async with await loop.signed_in("auditor") as auditor:
        forbidden = await auditor.post("/api/v1/tickets", json=ticket())
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"


async def test_idempotent_retry_returns_the_same_ticket(loop: Loop) -> None:
    key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    body = ticket(description=f"重复提交测试 {marker()}")
    first = await loop.intake.post("/api/v1/tickets", json=body, headers=key)
    again = await loop.intake.post("/api/v1/tickets", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == f"/api/v1/tickets/{first.json()['id']}"

    changed = await loop.intake.post("/api/v1/tickets", json={**body, "urgency": "urgent"}, headers=key)
    assert changed.status_code == 409
    assert changed.json()["fields"] == [{"field": "Idempotency-Key", "problem": "reused with a different body"}]

    # Keys belong to the caller: another account's identical key is a different request.
    async with await loop.signed_in("calltaker") as other:
        theirs = await other.post("/api/v1/tickets", json=body, headers=key)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_concurrent_duplicates_create_exactly_one_ticket(loop: Loop) -> None:
    key = {"Idempotency-Key": f"storm-{uuid.uuid4()}"}
    body = ticket(description=f"并发重复提交 {marker()}")
    responses = await asyncio.gather(*(loop.intake.post("/api/v1/tickets", json=body, headers=key) for _ in range(40)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 39 + [201], [r.text for r in responses if r.status_code not in {200, 201}]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    pool = loop.runtime("intake").pool
    assert await pool.fetchval("SELECT count(*) FROM tickets WHERE description = $1", body["description"]) == 1
    (ticket_id,) = ids
    created_events = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1 AND convert_from(payload, 'UTF8')::jsonb->>'type' = $2",
        ticket_id,
        types.TICKET_CREATED,
    )
    assert created_events == 1


async def test_a_consultation_answered_on_the_spot_is_created_closed_with_its_trail(loop: Loop) -> None:
    body = ticket(
        category=None,
        description=f"咨询居住证办理需要哪些材料 {marker()}",
        direct_answer={"answer": "已告知所需材料及办理地点"},
    )
    body.pop("category")
    created = await loop.intake.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["status"] == "closed"
    assert out["closed_at"] is not None
    assert out["direct_answer"] == "已告知所需材料及办理地点"
    trail = (await loop.intake.get(f"/api/v1/tickets/{out['id']}/timeline")).json()
    assert [(e["type"], e["status"], e["actor"]) for e in trail] == [
        (types.TICKET_CREATED, "closed", "dispatcher"),
        (types.TICKET_CLOSED, "closed", "dispatcher"),
    ]
    assert trail[1]["detail"]["direct_answer"] == "已告知所需材料及办理地点"
    # The events went out through the outbox too: the trail's consumer sees them and adds nothing twice.
    await wait_for_timeline(loop.intake, out["id"], types.TICKET_CLOSED)
    closed = (await loop.intake.get("/api/v1/tickets", params={"q": body["description"], "status": "closed"})).json()
    assert [t["id"] for t in closed["items"]] == [out["id"]]
    # The router read the announcement and dispatched nothing: no one is to handle an answered question.
    router = loop.runtime("router").pool
    seen = "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = 'router.intake' AND event_id = $1)"
    async with asyncio.timeout(30):
        while True:
            if await router.fetchval(seen, trail[0]["event_id"]):
                break
            await asyncio.sleep(0.1)
    assert await router.fetchval("SELECT count(*) FROM assignments WHERE ticket_id = $1", out["id"]) == 0


async def test_list_paginates_with_a_cursor_newest_first(loop: Loop) -> None:
    tag = marker()
    made = []
    for i in range(7):
        response = await loop.intake.post("/api/v1/tickets", json=ticket(description=f"分页 {tag} 第{i}件"))
        made.append(response.json()["id"])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": tag, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await loop.intake.get("/api/v1/tickets", params=params)).json()
        pages += 1
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/tickets", params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


async def _wait_on_trail(loop: Loop, ticket_id: str, found: Callable[[dict[str, Any]], bool]) -> None:
    async with asyncio.timeout(30):
        for _ in itertools.count():
            trail = (await loop.intake.get(f"/api/v1/tickets/{ticket_id}/timeline")).json()
            if any(found(e) for e in trail):
                return
            await asyncio.sleep(0.1)


async def _publish_and_wait(loop: Loop, event: CloudEvent) -> None:
    """Publish on ticket.lifecycle as another service would, and wait until intake's trail holds it."""
    producer = EventProducer(KAFKA, TOPIC_PREFIX, client_id="test-stand-in")
    await producer.start()
    try:
        await producer.publish(TICKET_LIFECYCLE.name, event)
    finally:
        await producer.stop()
    assert event.subject is not None
    await _wait_on_trail(loop, event.subject, lambda e: e["event_id"] == event.id)


async def test_list_filters_by_every_field(loop: Loop) -> None:
    tag = marker()
    plain = (await loop.intake.post("/api/v1/tickets", json=ticket(description=f"普通 {tag}"))).json()
    urgent_web = (
        await loop.intake.post(
            "/api/v1/tickets",
            json=ticket(description=f"紧急 {tag}", channel="web", urgency="urgent", category="transport.pothole"),
        )
    ).json()
    # Router dispatches it; then a later dispatch (as a dispatcher's correction would be) with a grid
    # chain and emergency mode, sent to the topic as router sends it; sla sets its deadlines, and then a
    # passed deadline (as an approved extension's move would be) is sent as sla sends it.
    await wait_for_timeline(loop.intake, urgent_web["id"], types.TICKET_DISPATCHED)
    assignment_id = f"A-{uuid.uuid4().hex[:8]}"
    dispatched = stand_ins.lifecycle(
        "/cityloop/router",
        types.TICKET_DISPATCHED,
        urgent_web["id"],
        TicketStatus.DISPATCHED,
        {
            "dept_code": "hp-transport",
            "dept_name": "黄浦区建设管理委员会",
            "assignment_id": assignment_id,
            "role": "lead",
            "category": "transport.pothole",
            "urgency": "urgent",
            "location": {"chain": {"district": "test-d", "street": "test-s", "community": "c1", "grid": "g7"}},
            "mode": {"kind": "emergency", "emergency_id": "E-1"},
        },
    )
    await _publish_and_wait(loop, dispatched)
    await _wait_on_trail(
        loop,
        urgent_web["id"],
        lambda e: e["type"] == types.SLA_DEADLINES_SET and e["detail"].get("assignment_id") == assignment_id,
    )
    due = datetime.now(UTC) - timedelta(hours=1)
    moved = stand_ins.lifecycle(
        "/cityloop/sla",
        types.SLA_DEADLINES_SET,
        urgent_web["id"],
        None,
        {"deadlines": {"resolve": due}, "estimated": [], "mode": "emergency"},
    )
    await _publish_and_wait(loop, moved)

    one = [urgent_web["id"]]
    assert await _ids(loop.intake, q=tag, channel="web") == one
    assert await _ids(loop.intake, q=tag, urgency="urgent") == one
    assert await _ids(loop.intake, q=tag, category="transport.pothole") == one
    assert await _ids(loop.intake, q=tag, dept_code="hp-transport") == one
    assert await _ids(loop.intake, q=tag, district="test-d", street="test-s") == one
    assert await _ids(loop.intake, q=tag, mode="emergency") == one
    assert await _ids(loop.intake, q=tag, overdue="true") == one
    # The other one is routed by the real router meanwhile: it may be received or dispatched by now.
    assert urgent_web["id"] in await _ids(loop.intake, q=tag, status=["dispatched", "needs_dispatcher"])
    assert await _ids(loop.intake, q=tag, status="closed") == []
    assert plain["id"] in await _ids(loop.intake, q=tag, overdue="false")
    created = datetime.fromisoformat(plain["created_at"])
    assert plain["id"] in await _ids(loop.intake, q=tag, created_from=created.isoformat())
    assert await _ids(loop.intake, q=tag, created_to=(created - timedelta(seconds=1)).isoformat()) == []
    assert await _ids(loop.intake, q=tag, closed_from=(created - timedelta(days=1)).isoformat()) == []
    assert await _ids(loop.intake, q=f"{tag}-nothing") == []
    shown = (await loop.intake.get(f"/api/v1/tickets/{urgent_web['id']}")).json()
    assert shown["agency"] == "黄浦区建设管理委员会"
    assert shown["mode"] == "emergency"
    assert shown["emergency_id"] == "E-1"
    assert datetime.fromisoformat(shown["resolve_by"]) == due
    assert shown["overdue"] is True
