"""回访 and 重办 end to end over the real broker and database: a resolution opens a callback, a satisfied
citizen closes the ticket, a 不满意 reopens it to the same department (which hears ``change: rehandle`` and
may answer again, nothing going to a DLQ), each resolution opens a new callback, a second failure escalates,
and a citizen who cannot be reached closes the callback as unreachable."""

import asyncio
from typing import Any

import httpx

from cityloop.common.identity import Role
from tests.integration.callback_support import (
    DEPT,
    dead_letters_about,
    department,
    due_ids,
    handle_again,
    new_resolved_ticket,
    next_task_where,
    operator,
)
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, ticket
from tests.integration.test_skeleton_loop import wait_for_timeline

SATISFIED = {"solved": True, "satisfaction": "satisfied", "note": "很满意"}
UNSATISFIED = {"solved": True, "satisfaction": "unsatisfied", "reason": "poorly_handled", "note": "垃圾又堆起来了"}


async def due_item(client: httpx.AsyncClient, ticket_id: str, **params: str) -> dict[str, Any]:
    """The ticket's item on the due list once sla's callback deadline has reached feedback."""
    async with asyncio.timeout(30):
        while True:
            page = (await client.get("/api/v1/callbacks/due", params={"limit": 500, **params})).json()
            item: dict[str, Any] | None = next((c for c in page["items"] if c["ticket_id"] == ticket_id), None)
            if item is not None and item["due_by"] is not None:
                return item
            await asyncio.sleep(0.2)


def types_in_order(trail: list[dict[str, Any]], wanted: list[str]) -> list[str]:
    return [e["type"] for e in trail if e["type"] in wanted]


async def test_a_resolution_opens_a_callback_recorded_satisfied_closes_the_ticket(loop: Loop) -> None:
    async with await department(loop) as dept:
        ticket_id, _ = await new_resolved_ticket(loop, dept)
    ticket = (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()

    async with operator(loop, "op-wang") as wang, operator(loop, "op-li") as li:
        # Its deadline is sla's callback clock, announced after the resolution.
        item = await due_item(wang, ticket_id, dept_code=DEPT, district=ticket["district"])
        assert (item["round"], item["trigger"], item["status"]) == (1, "resolved", "due")
        assert item["due_by"] is not None
        assert item["overdue"] is False
        assert ticket_id in await due_ids(wang, overdue="false")
        assert ticket_id not in await due_ids(wang, district="no-such-district")
        assert ticket_id not in await due_ids(wang, overdue="true")

        claimed = await wang.post(f"/api/v1/callbacks/{ticket_id}/claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["claimed_by"] == "op-wang"
        taken = await li.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=SATISFIED)
        assert taken.status_code == 409
        assert taken.json()["error"] == "claimed"

        # The body names someone else: ignored, the signed identity is the actor.
        recorded = await wang.post(f"/api/v1/callbacks/{ticket_id}/outcome", json={**SATISFIED, "recorded_by": "op-li"})
        assert recorded.status_code == 200, recorded.text
        assert recorded.json()["verdict"] == "close"
        again = await wang.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=SATISFIED)
        assert again.status_code == 404

    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.closed")
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "closed"
    steps = ["cityloop.ticket.resolved", "cityloop.callback.opened", "cityloop.callback.claimed",
             "cityloop.callback.recorded", "cityloop.ticket.closed"]  # fmt: skip
    assert types_in_order(trail, steps) == steps
    by_type = {e["type"]: e for e in trail}
    assert by_type["cityloop.callback.recorded"]["actor"] == "op-wang"
    assert by_type["cityloop.ticket.closed"]["actor"] == "op-wang"
    assert by_type["cityloop.callback.recorded"]["detail"]["satisfaction"] == "satisfied"


async def test_unsatisfied_reopens_the_department_handles_again_and_a_second_callback_closes(loop: Loop) -> None:
    async with await department(loop) as dept:
        ticket_id, task = await new_resolved_ticket(loop, dept)
        async with operator(loop, "op-zhao") as zhao:
            failed = await zhao.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=UNSATISFIED)
            assert failed.status_code == 200, failed.text
            assert (failed.json()["verdict"], failed.json()["reopened"]) == ("rehandle", True)
            assert failed.json()["escalation_level"] == 0

            notice = await handle_again(loop, dept, ticket_id, round_=2)
            assert notice["data"]["assignment_id"] == task["data"]["assignment_id"]  # the same lead, the same task
            assert notice["data"]["deadlines"]["resolve_by"] is not None  # sla's re-handle deadline
            assert "重办" in notice["data"]["note"]

            page = (await zhao.get("/api/v1/callbacks/due", params={"dept_code": DEPT, "limit": 500})).json()
            second = next(c for c in page["items"] if c["ticket_id"] == ticket_id)
            assert second["round"] == 2
            closed = await zhao.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=SATISFIED)
            assert closed.json()["verdict"] == "close"
            history = (await zhao.get(f"/api/v1/callbacks/{ticket_id}")).json()
            assert [(c["round"], c["verdict"]) for c in history] == [(1, "rehandle"), (2, "close")]

    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.closed")
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "closed"
    steps = [
        "cityloop.ticket.created",
        "cityloop.ticket.dispatched",
        "cityloop.ticket.accepted",
        "cityloop.ticket.resolved",
        "cityloop.callback.opened",
        "cityloop.callback.recorded",
        "cityloop.ticket.reopened",
        "cityloop.ticket.accepted",
        "cityloop.ticket.resolved",
        "cityloop.callback.opened",
        "cityloop.callback.recorded",
        "cityloop.ticket.closed",
    ]
    assert types_in_order(trail, steps) == steps
    rehandle_set = [
        e for e in trail if e["type"] == "cityloop.sla.deadlines_set" and "rehandle" in e["detail"]["deadlines"]
    ]
    assert len(rehandle_set) == 1
    reopened_at = next(i for i, e in enumerate(trail) if e["type"] == "cityloop.ticket.reopened")
    assert trail.index(rehandle_set[0]) > reopened_at
    reopened = trail[reopened_at]
    assert reopened["actor"] == "router"
    assert reopened["detail"]["dept_code"] == DEPT
    assert reopened["detail"]["escalation_level"] == 0
    assert reopened["detail"]["escalated_to"] is None
    assert await dead_letters_about(ticket_id) == []


async def test_a_second_failure_escalates_one_level_up(loop: Loop) -> None:
    async with await department(loop) as dept, operator(loop, "op-sun") as sun:
        ticket_id, _ = await new_resolved_ticket(loop, dept)
        not_solved = {"solved": False, "satisfaction": "unsatisfied", "reason": "not_handled"}
        first = await sun.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=not_solved)
        assert first.json()["escalation_level"] == 0
        await handle_again(loop, dept, ticket_id, round_=2)
        second = await sun.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=not_solved)
        assert (second.json()["verdict"], second.json()["escalation_level"]) == ("rehandle", 1)
        notice = await handle_again(loop, dept, ticket_id, round_=3)
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.reopened", count=2)
    first_reopen, second_reopen = [e for e in trail if e["type"] == "cityloop.ticket.reopened"]
    assert first_reopen["detail"]["escalated_to"] is None
    up = second_reopen["detail"]["escalated_to"]
    assert up is not None
    assert up != DEPT
    assert second_reopen["detail"]["escalation_level"] == 1
    assert up in second_reopen["summary"]
    assert f"supervised by {up}" in notice["data"]["note"]
    recorded = [e["detail"] for e in trail if e["type"] == "cityloop.callback.recorded"]
    assert [(r["failures"], r["escalation_level"]) for r in recorded] == [(1, 0), (2, 1)]
    assert await dead_letters_about(ticket_id) == []


async def test_an_unreachable_citizen_closes_the_callback_after_the_attempt_limit(loop: Loop) -> None:
    async with await department(loop) as dept:
        ticket_id, _ = await new_resolved_ticket(loop, dept)
    async with operator(loop, "op-zhou") as zhou:
        first = await zhou.post(f"/api/v1/callbacks/{ticket_id}/reschedule", json={})
        assert first.status_code == 200, first.text
        assert (first.json()["status"], first.json()["attempts"]) == ("due", 1)
        # Moved to later: off the list of calls to make now, still there when asked for.
        assert ticket_id not in await due_ids(zhou)
        assert ticket_id in await due_ids(zhou, include_scheduled="true")
        past = await zhou.post(
            f"/api/v1/callbacks/{ticket_id}/reschedule", json={"next_attempt_at": "2020-01-01T00:00:00+08:00"}
        )
        assert past.status_code == 422
        assert (await zhou.post(f"/api/v1/callbacks/{ticket_id}/reschedule", json={})).json()["attempts"] == 2
        last = await zhou.post(f"/api/v1/callbacks/{ticket_id}/reschedule", json={})
        assert (last.json()["status"], last.json()["attempts"]) == ("unreachable", 3)
        assert (await zhou.post(f"/api/v1/callbacks/{ticket_id}/reschedule", json={})).status_code == 404
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.closed")
    steps = ["cityloop.callback.rescheduled", "cityloop.callback.unreachable", "cityloop.ticket.closed"]
    assert types_in_order(trail, steps) == ["cityloop.callback.rescheduled", *steps]
    unreachable = next(e for e in trail if e["type"] == "cityloop.callback.unreachable")
    assert (unreachable["actor"], unreachable["detail"]["attempts"]) == ("op-zhou", 3)


async def test_callbacks_refuse_bad_input_with_the_json_error(loop: Loop) -> None:
    async with operator(loop, "op-qian") as qian, operator(loop, "auditor-1", Role.AUDITOR) as auditor:
        no_reason = await qian.post(
            "/api/v1/callbacks/T-x/outcome", json={"solved": True, "satisfaction": "unsatisfied"}
        )
        assert no_reason.status_code == 422
        assert no_reason.json()["fields"][0]["field"] == "reason"
        bad_cursor = await auditor.get("/api/v1/callbacks/due", params={"cursor": "not-a-cursor"})
        assert bad_cursor.status_code == 422
        assert "cursor" in bad_cursor.json()["message"]
        assert (await auditor.post("/api/v1/callbacks/T-x/claim")).status_code == 403


async def test_every_citizen_of_a_case_is_called_back_and_one_failure_reopens_the_case(loop: Loop) -> None:
    # A street no other test reports potholes in: an open pothole case left nearby (test_trail_chain.py's, in
    # pd-s05) would take this ticket in, and there would be no task for it.
    pothole = ticket("马路中间有个大坑电动车差点摔倒", address_in("pd-s02", 1), "transport.pothole")
    first_id = await create(loop, pothole)
    async with await department(loop, "pd-transport") as dept, operator(loop, "op-wu") as wu:
        task = await next_task_where(dept, first_id, lambda t: t["type"] == "cityloop.task.assigned")
        await wait_for_timeline(loop.intake, first_id, "cityloop.ticket.dispatched")
        second_id = await create(
            loop, ticket("路面坑坑洼洼下雨全是积水", address_in("pd-s02", 1, offset=3), "transport.pothole")
        )
        await wait_for_timeline(loop.intake, second_id, "cityloop.ticket.merged")
        await dept.answer(task, "cityloop.dept.accepted", note="已派人查看")
        await dept.answer(task, "cityloop.dept.resolved", note="已填平")
        for ticket_id in (first_id, second_id):  # each citizen gets their own callback
            await wait_for_timeline(loop.intake, ticket_id, "cityloop.callback.opened")

        assert (await wu.post(f"/api/v1/callbacks/{first_id}/outcome", json=SATISFIED)).json()["verdict"] == "close"
        not_solved = {"solved": False, "satisfaction": "unsatisfied", "reason": "not_handled"}
        assert (await wu.post(f"/api/v1/callbacks/{second_id}/outcome", json=not_solved)).json()["reopened"] is True

        # The case reopens: its lead's task is live again and both citizens will be answered again.
        await handle_again(loop, dept, first_id, round_=2)
        await wait_for_timeline(loop.intake, second_id, "cityloop.callback.opened", count=2)
        for ticket_id in (first_id, second_id):
            assert (await wu.post(f"/api/v1/callbacks/{ticket_id}/outcome", json=SATISFIED)).status_code == 200

    lead_trail = await wait_for_timeline(loop.intake, first_id, "cityloop.ticket.closed", count=2)
    reopened = next(e for e in lead_trail if e["type"] == "cityloop.ticket.reopened")
    assert reopened["detail"]["because_of"] == second_id
    member_trail = await wait_for_timeline(loop.intake, second_id, "cityloop.ticket.closed")
    steps = ["cityloop.callback.recorded", "cityloop.ticket.reopened", "cityloop.ticket.resolved",
             "cityloop.callback.opened", "cityloop.callback.recorded", "cityloop.ticket.closed"]  # fmt: skip
    assert types_in_order(member_trail, steps)[-len(steps) :] == steps
    for ticket_id in (first_id, second_id):
        assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "closed"
        assert await dead_letters_about(ticket_id) == []
