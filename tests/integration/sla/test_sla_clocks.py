"""Clocks over the real broker and database, with shortened policies (seconds, not days)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cityloop.common.contract import types
from cityloop.common.identity import Role
from tests.integration.sla.conftest import SUPERVISORS, Sla


def new_ticket() -> str:
    return f"T-sla-{uuid.uuid4().hex[:10]}"


def sla_events(trail: list[dict[str, Any]], kind: str) -> list[tuple[str, str]]:
    """(type, step or '') of sla's firing events about clocks of ``kind``, in trail order."""
    return [
        (e["type"], e["data"]["detail"].get("step", ""))
        for e in trail
        if e["type"].startswith("cityloop.sla.") and e["data"]["detail"].get("kind") == kind
    ]


async def dispatch(sla: Sla, ticket_id: str, dept: str = "sla-street", category: str = "roads.pothole") -> str:
    assignment = f"A-{uuid.uuid4().hex[:8]}"
    await sla.announce(
        ticket_id,
        types.TICKET_DISPATCHED,
        dept_code=dept,
        assignment_id=assignment,
        category=category,
        urgency="normal",
        supervisors=SUPERVISORS,
    )
    return assignment


async def test_unaccepted_ticket_warns_breaches_then_escalates_up_the_chain(sla: Sla) -> None:
    ticket = new_ticket()
    await dispatch(sla, ticket)

    def accept_ladder_done(trail: list[dict[str, Any]]) -> bool:
        return ("cityloop.sla.escalated", "notice") in sla_events(trail, "accept")

    trail = await sla.lifecycle.wait_for(ticket, accept_ladder_done)
    assert sla_events(trail, "accept") == [
        (types.SLA_WARNING, "warning"),
        (types.SLA_BREACHED, "breach"),
        (types.SLA_ESCALATED, "supervise"),
        (types.SLA_ESCALATED, "supervise"),
        (types.SLA_ESCALATED, "notice"),
    ]
    supervised = [e["data"]["detail"]["to"] for e in trail if e["data"]["detail"].get("step") == "supervise"]
    assert supervised[:2] == SUPERVISORS  # 督办 climbs district, then city
    sla_trail = [e["type"] for e in trail if e["type"].startswith("cityloop.sla.")]
    assert sla_trail[0] == types.SLA_DEADLINES_SET  # stated before anything fires

    # The department hears every step on its task topic, in the same order.
    tasks = await sla.tasks["sla-street"].wait_for(
        ticket,
        lambda evs: [e["data"]["change"] for e in evs if e["data"]["deadlines"].get("accept_by")][-1:] == ["noticed"],
    )
    accept_changes = [e["data"]["change"] for e in tasks if e["data"]["deadlines"].get("accept_by")]
    assert accept_changes == ["deadline_set", "warning", "urged", "supervised", "supervised", "noticed"]
    assert all(e["type"] == types.TASK_UPDATED for e in tasks)

    clocks = (await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}", headers=sla.as_(Role.AUDITOR))).json()
    accept = next(c for c in clocks["clocks"] if c["kind"] == "accept")
    assert accept["breached"] is True
    assert accept["next_step"] is None  # the ladder is done


async def test_ticket_accepted_and_resolved_in_time_fires_nothing(sla: Sla) -> None:
    on_time, control = new_ticket(), new_ticket()
    assignment = await dispatch(sla, on_time)
    await dispatch(sla, control)
    await sla.announce(on_time, types.TICKET_ACCEPTED, dept_code="sla-street", assignment_id=assignment)
    await sla.announce(on_time, types.TICKET_RESOLVED, dept_code="sla-street", assignment_id=assignment)
    # The control ticket, dispatched together with it, proves the clocks were running meanwhile.
    await sla.lifecycle.wait_for(control, lambda t: (types.SLA_BREACHED, "breach") in sla_events(t, "resolve"))
    trail = sla.lifecycle.of(on_time)
    met = [e["data"]["detail"]["kind"] for e in trail if e["type"] == types.SLA_DEADLINE_MET]
    assert met == ["accept", "resolve"]
    fired = {types.SLA_WARNING, types.SLA_BREACHED, types.SLA_ESCALATED}
    assert [e for e in trail if e["type"] in fired] == []
    # Resolving opened the callback clock (the hotline's), stated in the trail.
    stated = [e["data"]["detail"]["deadlines"] for e in trail if e["type"] == types.SLA_DEADLINES_SET]
    assert "callback" in stated[-1]


async def _request_extension(sla: Sla, ticket: str, assignment: str, requested: datetime) -> dict[str, Any]:
    await sla.announce(
        ticket,
        types.TICKET_EXTENSION_REQUESTED,
        dept_code="sla-street",
        assignment_id=assignment,
        requested_deadline=requested.isoformat(),
        note="需要协调施工队",
    )
    headers = sla.as_(Role.DISPATCHER)
    async with asyncio.timeout(30):
        while True:
            listed = await sla.http.get("/api/v1/deadlines/extensions", params={"ticket_id": ticket}, headers=headers)
            assert listed.status_code == 200, listed.text
            if listed.json()["items"]:
                item: dict[str, Any] = listed.json()["items"][0]
                return item
            await asyncio.sleep(0.05)


async def read_clocks(sla: Sla, ticket: str, *, until: str = "resolve") -> list[dict[str, Any]]:
    """The ticket's clocks as the API shows them, once one of kind ``until`` exists."""
    async with asyncio.timeout(30):
        while True:
            response = await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}", headers=sla.as_(Role.DISPATCHER))
            if response.status_code == 200 and any(c["kind"] == until for c in response.json()["clocks"]):
                clocks: list[dict[str, Any]] = response.json()["clocks"]
                return clocks
            assert response.status_code in {200, 404}, response.text
            await asyncio.sleep(0.05)


async def _resolve_clock(sla: Sla, ticket: str) -> dict[str, Any]:
    return next(c for c in await read_clocks(sla, ticket) if c["kind"] == "resolve")


async def test_approved_extension_moves_the_deadline(sla: Sla) -> None:
    ticket = new_ticket()
    assignment = await dispatch(sla, ticket, category="slow.case")
    await sla.announce(ticket, types.TICKET_ACCEPTED, dept_code="sla-street", assignment_id=assignment)
    before = await _resolve_clock(sla, ticket)
    requested = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    pending = await _request_extension(sla, ticket, assignment, requested)
    assert pending["status"] == "pending"
    # Pending changes nothing yet; a department that does not supervise this one may not decide.
    assert (await _resolve_clock(sla, ticket))["due_at"] == before["due_at"]
    stranger = sla.as_(Role.DEPARTMENT, "sla-street-b")
    url = f"/api/v1/deadlines/extensions/{pending['id']}"
    assert (await sla.http.post(f"{url}/approve", json={}, headers=stranger)).status_code == 403
    too_far = {"deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat()}
    refused = await sla.http.post(f"{url}/approve", json=too_far, headers=sla.as_(Role.DISPATCHER))
    assert refused.status_code == 422
    assert refused.json()["fields"][0]["field"] == "deadline"

    # The district above the street office (督办 unit) approves.
    approved = await sla.http.post(
        f"{url}/approve", json={"note": "同意延期"}, headers=sla.as_(Role.DEPARTMENT, "sla-district")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    after = await _resolve_clock(sla, ticket)
    assert datetime.fromisoformat(after["due_at"]) == requested
    assert after["moves"] == 1
    again = await sla.http.post(f"{url}/approve", json={}, headers=sla.as_(Role.DISPATCHER))
    assert again.status_code == 409

    trail = await sla.lifecycle.wait_for(ticket, lambda t: any(e["type"] == types.SLA_EXTENSION_APPROVED for e in t))
    moved_to = [e for e in trail if e["type"] == types.SLA_DEADLINES_SET][-1]["data"]["detail"]["deadlines"]
    assert {kind: datetime.fromisoformat(at) for kind, at in moved_to.items()} == {"resolve": requested}
    tasks = await sla.tasks["sla-street"].wait_for(
        ticket, lambda evs: any(e["data"]["change"] == "deadline_moved" for e in evs)
    )
    moved = next(e for e in tasks if e["data"]["change"] == "deadline_moved")
    assert datetime.fromisoformat(moved["data"]["deadlines"]["resolve_by"]) == requested


async def test_rejected_extension_leaves_the_deadline(sla: Sla) -> None:
    ticket = new_ticket()
    assignment = await dispatch(sla, ticket, category="slow.case")
    await sla.announce(ticket, types.TICKET_ACCEPTED, dept_code="sla-street", assignment_id=assignment)
    before = await _resolve_clock(sla, ticket)
    pending = await _request_extension(sla, ticket, assignment, datetime.now(UTC) + timedelta(minutes=20))
    url = f"/api/v1/deadlines/extensions/{pending['id']}/reject"
    blank = await sla.http.post(url, json={"reason": "  "}, headers=sla.as_(Role.DISPATCHER))
    assert blank.status_code == 422
    rejected = await sla.http.post(url, json={"reason": "材料齐全，可按期办结"}, headers=sla.as_(Role.DISPATCHER))
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    after = await _resolve_clock(sla, ticket)
    assert (after["due_at"], after["moves"]) == (before["due_at"], 0)
    tasks = await sla.tasks["sla-street"].wait_for(
        ticket, lambda evs: any(e["data"]["change"] == "extension_rejected" for e in evs)
    )
    assert not any(e["data"]["change"] == "deadline_moved" for e in tasks)
    await sla.lifecycle.wait_for(ticket, lambda t: any(e["type"] == types.SLA_EXTENSION_REJECTED for e in t))


async def test_redispatch_after_rejection_restarts_clocks_for_the_new_owner(sla: Sla) -> None:
    ticket = new_ticket()
    first = await dispatch(sla, ticket, category="slow.case")
    await sla.announce(ticket, types.TICKET_REJECTED, dept_code="sla-street", assignment_id=first, reason="非我单位")
    await sla.lifecycle.wait_for(ticket, lambda t: sum(e["type"] == types.SLA_DEADLINE_CANCELLED for e in t) == 2)
    second = await dispatch(sla, ticket, dept="sla-street-b", category="slow.case")
    trail = await sla.lifecycle.wait_for(ticket, lambda t: sum(e["type"] == types.SLA_DEADLINES_SET for e in t) == 2)
    by_owner = {(c["assignment_id"], c["kind"]): c for c in await read_clocks(sla, ticket)}
    assert {by_owner[(first, k)]["state"] for k in ("accept", "resolve")} == {"cancelled"}
    assert {by_owner[(second, k)]["state"] for k in ("accept", "resolve")} == {"open"}
    assert by_owner[(second, "accept")]["started_at"] > by_owner[(first, "accept")]["started_at"]
    assert trail[-1]["data"]["detail"]["dept_code"] == "sla-street-b"
    # The new owner's department reads its clocks; the old one no longer sees a task of its own here.
    own = await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}", headers=sla.as_(Role.DEPARTMENT, "sla-street-b"))
    assert own.status_code == 200
    assert (await sla.http.get(f"/api/v1/deadlines/tickets/{ticket}")).status_code == 401


async def test_reopened_ticket_gets_a_rehandle_clock(sla: Sla) -> None:
    ticket = new_ticket()
    assignment = await dispatch(sla, ticket, category="slow.case")
    for type_ in (types.TICKET_ACCEPTED, types.TICKET_RESOLVED):
        await sla.announce(ticket, type_, dept_code="sla-street", assignment_id=assignment)
    await sla.announce(
        ticket,
        types.TICKET_REOPENED,
        dept_code="sla-street",
        assignment_id=assignment,
        callback_id=1,
        solved=False,
        satisfaction="unsatisfied",
    )
    tasks = await sla.tasks["sla-street"].wait_for(
        ticket, lambda evs: any(e["data"]["change"] == "rehandle" for e in evs)
    )
    moved = next(e for e in tasks if e["data"]["change"] == "rehandle")
    assert "重办" in moved["data"]["note"]
    assert moved["data"]["deadlines"]["resolve_by"] is not None
    clocks = await read_clocks(sla, ticket, until="rehandle")
    states = {c["kind"]: c["state"] for c in clocks}
    assert states == {"accept": "met", "resolve": "met", "callback": "met", "rehandle": "open"}
    rehandle = next(c for c in clocks if c["kind"] == "rehandle")
    assert (rehandle["dept_code"], rehandle["assignment_id"]) == ("sla-street", assignment)
