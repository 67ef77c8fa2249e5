"""Routing over the real broker: the right unit for category x location, 协办 fan-out, handover to
110/119/120/122, free text classified, and the unplaceable sent to a dispatcher, each with its why."""

from cityloop.common.identity import Role
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline

HUAMU = "浦东新区花木街道锦绣路1001号"


async def test_a_ticket_goes_to_the_unit_for_its_category_and_location(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("地铁站出口每天晚上有很多小贩摆摊", HUAMU, "enforcement.street-vendor"))
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-s01-enforcement") as dept:
        task = (await dept.next_task(ticket_id))["data"]
    assert (task["dept_code"], task["role"], task["category"]) == (
        "pd-s01-enforcement",
        "lead",
        "enforcement.street-vendor",
    )
    assert task["location"]["chain"] == {
        "district": "pd",
        "street": "pd-s01",
        "community": "pd-s01-c07",
        "grid": "pd-s01-c07-g03",
    }
    assert task["citizen"]["phone"] == "139****1111"

    dispatched = last(await timeline(loop, ticket_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
    detail = dispatched["detail"]
    assert detail["dept_code"] == "pd-s01-enforcement"
    assert detail["supervisors"] == ["pd-enforcement", "city-enforcement"]
    assert detail["policy"] == {"accept_days": 1, "resolve_days": 5}
    why = detail["why"]
    assert why["rule"] == "enforcement.street-vendor -> street:enforcement"
    assert why["classified_by"] == "call_taker"
    assert why["confidence"] == 1.0
    assert why["location"].startswith("浦东新区 › 花木街道")
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["dept_code"] == "pd-s01-enforcement"


async def test_assisting_departments_each_get_their_own_task(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("下大雨路口积水没过膝盖", address_in("hp-s02"), "water.flooding"))
    async with (
        DeptSystem(KAFKA, TOPIC_PREFIX, "hp-water") as lead,
        DeptSystem(KAFKA, TOPIC_PREFIX, "hp-transport") as assist,
    ):
        lead_task = (await lead.next_task(ticket_id))["data"]
        assist_task = (await assist.next_task(ticket_id))["data"]
        assert (lead_task["role"], assist_task["role"]) == ("lead", "assist")
        assert lead_task["assignment_id"] != assist_task["assignment_id"]
        assert lead_task["urgency"] == "urgent"  # the catalogue's default beats the call-taker's "normal"
        await assist.answer({"data": assist_task}, "cityloop.dept.accepted", note="协办已签收")
        trail = await timeline(loop, ticket_id, "cityloop.ticket.progress")
    detail = last(trail, "cityloop.ticket.dispatched")["detail"]
    assert detail["assists"] == [
        {"dept_code": "hp-transport", "assignment_id": assist_task["assignment_id"], "role": "assist"}
    ]
    assert last(trail, "cityloop.ticket.progress")["detail"]["role"] == "assist"
    # An assist accepting does not move the ticket: the lead answers for it.
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "dispatched"


async def test_a_110_matter_is_handed_over_and_never_routed(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("楼下有人正在打架还动了刀", address_in("xh-s01"), "handover.police"))
    trail = await timeline(loop, ticket_id, "cityloop.ticket.handed_over")
    handed = last(trail, "cityloop.ticket.handed_over")
    assert handed["detail"]["handover_to"] == "110"
    assert "never routed" in handed["detail"]["why"]["rule"]
    assert not any(e["type"] == "cityloop.ticket.dispatched" for e in trail)
    async with router_client(loop) as router:
        record = (await router.get(f"/api/v1/routing/{ticket_id}")).json()
    assert record["status"] == "handed_over"
    assert record["assignments"] == []


async def test_free_text_is_classified_by_the_model(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("楼上邻居在屋顶违章搭建了一间房，希望尽快处理", address_in("pd-s05")))
    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
    detail = last(trail, "cityloop.ticket.dispatched")["detail"]
    assert detail["category"] == "enforcement.illegal-construction"
    assert detail["dept_code"] == "pd-s05-enforcement"
    assert [a["dept_code"] for a in detail["assists"]] == ["pd-s05-office"]
    assert detail["why"]["classified_by"] == "model"
    assert detail["why"]["confidence"] >= 0.5
    assert detail["why"]["candidates"][0][0] == "enforcement.illegal-construction"


async def test_an_unresolvable_location_waits_for_a_dispatcher(loop: Loop) -> None:
    ticket_id = await create(loop, ticket("路边一大堆生活垃圾没人清理", "老街口那棵大树下面", "sanitation.garbage"))
    trail = await timeline(loop, ticket_id, "cityloop.ticket.needs_dispatcher")
    waiting = last(trail, "cityloop.ticket.needs_dispatcher")["detail"]
    assert waiting["queue_reason"] == "unresolved_location"
    assert "no known road" in waiting["why"]["problem"]
    assert (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()["status"] == "needs_dispatcher"

    async with router_client(loop) as router:
        queue = (
            await router.get("/api/v1/routing/queue", params={"reason": "unresolved_location", "limit": 500})
        ).json()
        assert ticket_id in {item["ticket_id"] for item in queue["items"]}
        assert set(queue) == {"items", "next_cursor"}  # one keyset page (libs/common paging.py)
        # The dispatcher places it; only then is it routed.
        bad = await router.post(f"/api/v1/routing/{ticket_id}/correct", json={"grid": "nowhere"})
        assert bad.status_code == 422
        assert bad.json()["fields"][0]["field"] == "grid"
        fixed = await router.post(
            f"/api/v1/routing/{ticket_id}/correct", json={"grid": "yp-s03-c01-g01", "note": "市民补充了地址"}
        )
        assert fixed.status_code == 200, fixed.text
    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
    assert last(trail, "cityloop.ticket.dispatched")["detail"]["dept_code"] == "yp-sanitation"
    async with router_client(loop, "op-1", Role.CALL_TAKER) as stranger:
        assert (await stranger.get("/api/v1/routing/queue")).status_code == 403
