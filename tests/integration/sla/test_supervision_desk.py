"""督办 with a desk, over the real broker and database (sla's own service, seconds-long policies): a district
bureau's missed deadline reaches the district operations centre's own topic and its /supervision list; the
desk urges (the bureau hears it), escalates (city ops hears it), sets a deadline (the clock moves), closes;
通报 is counted per department."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from cityloop.common.contract import types
from cityloop.common.identity import Role
from cityloop.common.topics import dept_tasks, ensure_topics
from tests.integration.sla.conftest import Sla, TopicReader

BUREAU, DISTRICT_OPS, CITY_OPS = "sla-bureau", "sla-district-ops", "sla-city-ops"


def supervised(kind: str) -> Any:
    def found(events: list[dict[str, Any]]) -> bool:
        return any(e["type"] == types.TASK_SUPERVISED and e["data"]["kind"] == kind for e in events)

    return found


@asynccontextmanager
async def desk_readers(sla: Sla) -> AsyncIterator[dict[str, TopicReader]]:
    """Readers of the bureau's and both desks' task topics (made first: nothing has been sent there yet)."""
    prefix, kafka = sla.settings.topic_prefix, sla.settings.kafka_bootstrap
    codes = (BUREAU, DISTRICT_OPS, CITY_OPS)
    await ensure_topics(kafka, prefix, [dept_tasks(c) for c in codes])
    readers = {c: TopicReader(kafka, f"{prefix}{dept_tasks(c).name}") for c in codes}
    for reader in readers.values():
        await reader.start()
    try:
        yield readers
    finally:
        for reader in readers.values():
            await reader.stop()


async def late_bureau(sla: Sla, readers: dict[str, TopicReader]) -> tuple[str, str, int]:
    """A district bureau's task whose accept deadline (3 s) passes: (ticket, assignment, supervision id)
    once the 督办 step has put it on the district ops desk, checked on that desk's own topic."""
    ticket = f"T-desk-{uuid.uuid4().hex[:10]}"
    assignment = f"A-{uuid.uuid4().hex[:8]}"
    await sla.announce(
        ticket,
        types.TICKET_DISPATCHED,
        dept_code=BUREAU,
        assignment_id=assignment,
        category="roads.pothole",
        urgency="normal",
        supervisors=["sla-city-bureau"],
        desks=[DISTRICT_OPS, CITY_OPS],
    )
    desk_events = await readers[DISTRICT_OPS].wait_for(ticket, supervised("accept"))
    on_desk = next(e["data"] for e in desk_events if e["data"]["kind"] == "accept")
    assert (on_desk["dept_code"], on_desk["assignment_id"], on_desk["desk"], on_desk["level"]) == (
        BUREAU,
        assignment,
        DISTRICT_OPS,
        1,
    )
    assert on_desk["escalated_from"] is None
    return ticket, assignment, int(on_desk["supervision_id"])


async def test_a_bureaus_breach_reaches_the_district_ops_desk_and_its_urge_reaches_the_bureau(sla: Sla) -> None:
    async with desk_readers(sla) as readers:
        ticket, assignment, supervision_id = await late_bureau(sla, readers)
        as_desk = sla.as_(Role.DEPARTMENT, DISTRICT_OPS)
        listed = (await sla.http.get("/api/v1/supervision", params={"ticket_id": ticket}, headers=as_desk)).json()
        mine = [i for i in listed["items"] if i["id"] == supervision_id]
        assert len(mine) == 1
        assert (mine[0]["status"], mine[0]["dept_code"], mine[0]["kind"]) == ("open", BUREAU, "accept")
        # Filtered by kind; the late bureau's own desk is empty; another desk may not peek nor act.
        params = {"kind": "resolve", "ticket_id": ticket}
        by_kind = await sla.http.get("/api/v1/supervision", params=params, headers=as_desk)
        assert supervision_id not in {i["id"] for i in by_kind.json()["items"]}
        as_bureau = sla.as_(Role.DEPARTMENT, BUREAU)
        assert (await sla.http.get("/api/v1/supervision", headers=as_bureau)).json()["items"] == []
        peek = await sla.http.get("/api/v1/supervision", params={"desk": DISTRICT_OPS}, headers=as_bureau)
        assert peek.status_code == 403
        meddle = await sla.http.post(
            f"/api/v1/supervision/{supervision_id}/urge", json={"note": "x"}, headers=as_bureau
        )
        assert meddle.status_code == 404

        # 催办 from the desk reaches the bureau as task.updated.
        note = "请今日内签收并联系市民"
        urged = await sla.http.post(f"/api/v1/supervision/{supervision_id}/urge", json={"note": note}, headers=as_desk)
        assert urged.status_code == 200, urged.text
        assert urged.json()["urges"] == 1
        told = await readers[BUREAU].wait_for(
            ticket, lambda evs: any(note in (e["data"].get("note") or "") for e in evs)
        )
        urge = next(e for e in told if note in (e["data"].get("note") or ""))
        assert (urge["type"], urge["data"]["change"], urge["data"]["assignment_id"]) == (
            types.TASK_UPDATED,
            "urged",
            assignment,
        )


async def test_a_desk_escalates_to_city_ops_which_sets_a_deadline_and_closes(sla: Sla) -> None:
    async with desk_readers(sla) as readers:
        ticket, _, supervision_id = await late_bureau(sla, readers)
        as_desk = sla.as_(Role.DEPARTMENT, DISTRICT_OPS)
        # Escalate: city ops receives it on its own topic and now holds the desk.
        escalated = await sla.http.post(
            f"/api/v1/supervision/{supervision_id}/escalate", json={"note": "区级督办无效"}, headers=as_desk
        )
        assert escalated.status_code == 200, escalated.text
        assert (escalated.json()["desk"], escalated.json()["level"]) == (CITY_OPS, 2)
        city_events = await readers[CITY_OPS].wait_for(ticket, supervised("accept"))
        at_city = next(e["data"] for e in city_events if e["data"]["kind"] == "accept")
        assert (at_city["escalated_from"], at_city["supervision_id"]) == (DISTRICT_OPS, supervision_id)
        as_city = sla.as_(Role.DEPARTMENT, CITY_OPS)
        top = await sla.http.post(f"/api/v1/supervision/{supervision_id}/escalate", json={}, headers=as_city)
        assert top.status_code == 409

        # 限期 from city ops: the accept clock moves to it and the bureau is told.
        deadline = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
        limited = await sla.http.post(
            f"/api/v1/supervision/{supervision_id}/deadline",
            json={"deadline": deadline.isoformat(), "note": "两小时内签收"},
            headers=as_city,
        )
        assert limited.status_code == 200, limited.text
        assert datetime.fromisoformat(limited.json()["supervised_deadline"]) == deadline
        clocks = (await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}", headers=sla.as_(Role.AUDITOR))).json()
        accept = next(c for c in clocks["clocks"] if c["kind"] == "accept")
        assert datetime.fromisoformat(accept["due_at"]) == deadline
        moved = await readers[BUREAU].wait_for(
            ticket, lambda evs: any(e["data"].get("change") == "deadline_moved" for e in evs)
        )
        moves = [e["data"]["deadlines"]["accept_by"] for e in moved if e["data"].get("change") == "deadline_moved"]
        assert datetime.fromisoformat(moves[-1]) == deadline
        past = await sla.http.post(
            f"/api/v1/supervision/{supervision_id}/deadline",
            json={"deadline": "2020-01-01T00:00:00+00:00"},
            headers=as_city,
        )
        assert past.status_code == 422
        assert [f["field"] for f in past.json()["fields"]] == ["deadline"]

        closed = await sla.http.post(
            f"/api/v1/supervision/{supervision_id}/close", json={"note": "已签收"}, headers=as_city
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        still_open = (await sla.http.get("/api/v1/supervision", params={"ticket_id": ticket}, headers=as_city)).json()
        assert supervision_id not in {i["id"] for i in still_open["items"]}
        again = await sla.http.post(f"/api/v1/supervision/{supervision_id}/urge", json={"note": "x"}, headers=as_city)
        assert again.status_code == 409

    def closed_on_trail(evs: list[dict[str, Any]]) -> bool:
        return any(e["type"] == types.SLA_SUPERVISION and e["data"]["detail"]["action"] == "closed" for e in evs)

    trail = await sla.lifecycle.wait_for(ticket, closed_on_trail)
    actions = [
        e["data"]["detail"]["action"]
        for e in trail
        if e["type"] == types.SLA_SUPERVISION and e["data"]["detail"]["kind"] == "accept"
    ]
    assert actions == ["opened", "escalated", "deadline_set", "closed"]


async def test_chronic_lateness_notices_are_counted_per_department_and_period(sla: Sla) -> None:
    ticket = f"T-notice-{uuid.uuid4().hex[:10]}"
    dept = f"sla-late-{uuid.uuid4().hex[:6]}"
    await sla.announce(
        ticket,
        types.TICKET_DISPATCHED,
        dept_code=dept,
        assignment_id=f"A-{uuid.uuid4().hex[:8]}",
        category="roads.pothole",
        urgency="normal",
        supervisors=["sla-city-bureau"],
        desks=[DISTRICT_OPS],
    )
    # accept and resolve both run their ladders to the 通报 step.
    await sla.lifecycle.wait_for(
        ticket,
        lambda evs: (
            sum(1 for e in evs if e["type"] == types.SLA_ESCALATED and e["data"]["detail"]["step"] == "notice") == 2
        ),
    )
    stats = await sla.http.get(
        "/api/v1/supervision/notices", params={"period": "month", "dept_code": dept}, headers=sla.as_(Role.AUDITOR)
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["period"] == "month"
    assert body["first_day"].endswith("-01")
    assert [(i["dept_code"], i["notices"], i["tickets"]) for i in body["items"]] == [(dept, 2, 1)]
