"""Regressions of issue 15's correctness fixes, over the real broker: a dispatcher's correction or an
arbitration keeps the live assist (协办) tasks instead of sending them twice; a re-dispatched case's merged
tickets show the new lead; router's name searches take % _ \\ literally."""

from typing import Any

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline


def assignments(record: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Sorted: assignments made in one transaction share their created_at, so the record's order among
    them is not defined."""
    return sorted((a["dept_code"], a["role"], a["status"]) for a in record["assignments"])


async def test_a_correction_of_the_lead_keeps_the_live_assist_task(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("下大雨路口积水没过膝盖", address_in("yp-s06", 2), "water.flooding"))
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "yp-transport") as assist:
        assist_task = (await assist.next_task(ticket_id))["data"]
    assert assist_task["role"] == "assist"
    async with router_client(loop, "disp-levels") as router:
        corrected = await router.post(f"/api/v1/routing/{ticket_id}/correct", json={"dept_code": "yp-s06-office"})
        assert corrected.status_code == 200, corrected.text
        record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()
    assert assignments(record) == [
        ("yp-s06-office", "lead", "assigned"),
        ("yp-transport", "assist", "assigned"),  # kept: one task, not a second one
        ("yp-water", "lead", "withdrawn"),
    ]
    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched", count=2)
    redispatch = last(trail, "cityloop.ticket.dispatched")["detail"]
    assert redispatch["assists"] == [
        {"dept_code": "yp-transport", "assignment_id": assist_task["assignment_id"], "role": "assist"}
    ]
    assert redispatch["replaces"] == [a["id"] for a in record["assignments"] if a["dept_code"] == "yp-water"]


async def test_an_arbitration_keeps_the_live_assist_task(loop: Loop) -> None:
    body = ticket("有人晚上偷偷倒建筑垃圾在空地上", address_in("yp-s07", 4), "sanitation.construction-waste")
    ticket_id = await create(loop, body)
    async with (
        DeptSystem(KAFKA, TOPIC_PREFIX, "yp-s07-enforcement") as squad,
        DeptSystem(KAFKA, TOPIC_PREFIX, "yp-sanitation") as bureau,
        DeptSystem(KAFKA, TOPIC_PREFIX, "yp-s07-office") as office,
    ):
        first = await squad.next_task(ticket_id)
        assist = (await bureau.next_task(ticket_id))["data"]
        # A suggestion the catalogue does not allow: a dispatcher re-routes, by hand, to the street office.
        await squad.answer(first, "cityloop.dept.rejected", reason="不归我们", suggested_dept="yp-s07-office")
        await timeline(loop, ticket_id, "cityloop.ticket.needs_dispatcher")
        async with router_client(loop, "disp-levels") as router:
            moved = await router.post(f"/api/v1/routing/{ticket_id}/correct", json={"dept_code": "yp-s07-office"})
            assert moved.status_code == 200, moved.text
            second = await office.next_task(ticket_id)
            await office.answer(
                second, "cityloop.dept.rejected", reason="应由执法中队处理", suggested_dept="yp-s07-enforcement"
            )
            await timeline(loop, ticket_id, "cityloop.ticket.needs_dispatcher", count=2)
            decided = await router.post(
                f"/api/v1/routing/{ticket_id}/arbitrate",
                json={"dept_code": "yp-s07-enforcement", "note": "偷倒现场在街面，由执法中队查处"},
            )
            assert decided.status_code == 200, decided.text
            record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()
    assert assignments(record) == [
        ("yp-s07-enforcement", "lead", "assigned"),
        ("yp-s07-enforcement", "lead", "rejected"),
        ("yp-s07-office", "lead", "rejected"),
        ("yp-sanitation", "assist", "assigned"),  # the one assist task, through correction and arbitration
    ]
    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched", count=3)
    for dispatched in [e for e in trail if e["type"] == "cityloop.ticket.dispatched"][1:]:
        assert [a["assignment_id"] for a in dispatched["detail"]["assists"]] == [assist["assignment_id"]]


async def test_merged_tickets_follow_their_case_to_its_new_lead(loop: Loop) -> None:
    where = address_in("yp-s08", 3)
    lead_ticket = await create(loop, ticket("有人晚上偷偷倒建筑垃圾在空地上", where, "sanitation.construction-waste"))
    await timeline(loop, lead_ticket, "cityloop.ticket.dispatched")
    member = await create(loop, ticket("空地上又被倒了一堆装修垃圾", where, "sanitation.construction-waste"))
    joined = last(await timeline(loop, member, "cityloop.ticket.merged"), "cityloop.ticket.merged")["detail"]
    assert (joined["merged_into"], joined["dept_code"]) == (lead_ticket, "yp-s08-enforcement")
    async with (
        DeptSystem(KAFKA, TOPIC_PREFIX, "yp-s08-enforcement") as squad,
        DeptSystem(KAFKA, TOPIC_PREFIX, "yp-sanitation") as bureau,
    ):
        task = await squad.next_task(lead_ticket)
        # 退单 to an owner the catalogue allows: 改派 of the whole case.
        await squad.answer(task, "cityloop.dept.rejected", reason="渣土偷倒属市容部门", suggested_dept="yp-sanitation")
        new_lead = None
        while new_lead is None or new_lead["data"].get("role") != "lead":
            new_lead = await bureau.next_task(lead_ticket)
    trail = await timeline(loop, member, "cityloop.ticket.merged", count=2)
    restated = last(trail, "cityloop.ticket.merged")["detail"]
    assert restated["dept_code"] == "yp-sanitation"
    assert restated["assignment_id"] == new_lead["data"]["assignment_id"]
    assert restated["replaces"] == [task["data"]["assignment_id"]]
    shown = (await loop.intake.get(f"/api/v1/tickets/{member}")).json()
    assert shown["dept_code"] == "yp-sanitation"  # was still yp-s08-enforcement


async def test_name_searches_take_like_wildcards_literally(loop: Loop) -> None:
    async with router_client(loop, "disp-levels") as router:
        for path in ("/api/v1/departments", "/api/v1/categories", "/api/v1/jurisdictions/streets"):
            for wildcard in ("%", "_", "\\", "街%", "_区"):
                found = await router.get(path, params={"q": wildcard, "limit": 5})
                assert found.status_code == 200, found.text
                assert found.json()["items"] == [], (path, wildcard)
        # Ordinary text still finds what contains it, and a code prefix still works.
        named = (await router.get("/api/v1/departments", params={"q": "水务局", "limit": 500})).json()["items"]
        assert "yp-water" in {d["code"] for d in named}
        coded = (await router.get("/api/v1/jurisdictions/streets", params={"q": "yp-s0", "limit": 500})).json()
        assert {s["code"] for s in coded["items"]} == {f"yp-s0{i}" for i in range(1, 10)}
