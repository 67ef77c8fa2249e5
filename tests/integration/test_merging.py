"""并单 over the real broker: a near-duplicate joins the open case, each citizen's ticket links to it and
follows its handling; a dispatcher splits a wrong merge and the ticket is routed on its own."""

import asyncio

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline


async def test_near_duplicates_merge_into_one_case_and_a_split_restores_them(loop: Loop) -> None:
    first_id = await create(
        loop, ticket("马路中间有个大坑电动车差点摔倒", address_in("pd-s04", 2), "transport.pothole")
    )
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-transport") as dept:
        task = await dept.next_task(first_id)
        case_id = last(await timeline(loop, first_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")[
            "detail"
        ]["case_id"]

        # Another citizen, a few numbers up the same road, the same pothole.
        second_id = await create(
            loop, ticket("路面坑坑洼洼下雨全是积水", address_in("pd-s04", 2, offset=3), "transport.pothole")
        )
        merged = last(await timeline(loop, second_id, "cityloop.ticket.merged"), "cityloop.ticket.merged")
        assert merged["detail"]["case_id"] == case_id
        assert merged["detail"]["merged_into"] == first_id
        assert merged["detail"]["dept_code"] == "pd-transport"
        assert merged["detail"]["why"]["merge"]["metres"] < 200
        told = await dept.next_task(first_id)
        assert (told["type"], told["data"]["change"]) == ("cityloop.task.updated", "merged")
        assert second_id in told["data"]["note"]
        second = (await loop.intake.get(f"/api/v1/tickets/{second_id}")).json()
        assert (second["status"], second["dept_code"]) == ("dispatched", "pd-transport")

        # One handling answers every citizen: the lead's acceptance reaches the merged ticket too.
        await dept.answer(task, "cityloop.dept.accepted", note="已派人查看")
        follow = last(await timeline(loop, second_id, "cityloop.ticket.accepted"), "cityloop.ticket.accepted")
        assert follow["detail"]["case_id"] == case_id

        async with router_client(loop) as router:
            case = (await router.get(f"/api/v1/routing/merges/{case_id}")).json()
            assert [t["ticket_id"] for t in case["tickets"]] == [first_id, second_id]
            merges = (await router.get("/api/v1/routing/merges", params={"status": "open", "limit": 500})).json()
            assert case_id in {c["id"] for c in merges["items"]}

            wrong = await router.post(f"/api/v1/routing/merges/{case_id}/split", json={"ticket_id": first_id})
            assert wrong.status_code == 409  # the case's own lead is not "merged"
            split = await router.post(
                f"/api/v1/routing/merges/{case_id}/split", json={"ticket_id": second_id, "note": "不是同一个坑"}
            )
            assert split.status_code == 200, split.text
            assert split.json()["outcome"] == "dispatched"
            told = await dept.next_task(first_id)
            assert told["data"]["change"] == "split"
            own = await dept.next_task(second_id)
            assert (own["type"], own["data"]["role"]) == ("cityloop.task.assigned", "lead")
            case = (await router.get(f"/api/v1/routing/merges/{case_id}")).json()
            assert [t["ticket_id"] for t in case["tickets"]] == [first_id]
            record = (await router.get(f"/api/v1/routing/{second_id}")).json()
            assert record["case_id"] == f"C-{second_id}"
            assert record["assignments"][0]["dept_code"] == "pd-transport"

    trail = await timeline(loop, second_id, "cityloop.ticket.dispatched")
    kinds = [e["type"].rsplit(".", 1)[-1] for e in trail if e["type"].startswith("cityloop.ticket.")]
    assert kinds == ["created", "merged", "accepted", "split", "dispatched"]
    assert last(trail, "cityloop.ticket.dispatched")["detail"]["split_from"] == case_id


async def test_far_apart_or_different_matters_do_not_merge(loop: Loop) -> None:
    a = await create(loop, ticket("路灯坏了好几盏晚上黑漆漆的", address_in("cm-s02"), "transport.streetlight"))
    b = await create(loop, ticket("路灯坏了好几盏晚上黑漆漆的", address_in("cm-s09"), "transport.streetlight"))
    c = await create(loop, ticket("马路中间有个大坑", address_in("cm-s02", offset=1), "transport.pothole"))
    for ticket_id in (a, b, c):
        trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
        assert not any(e["type"] == "cityloop.ticket.merged" for e in trail)


async def test_a_burst_of_near_duplicates_makes_one_case(loop: Loop) -> None:
    """Eight citizens report the same pothole at once. Their tickets lie on different partitions, which router
    applies side by side (EventConsumer concurrent): the case lock per category still makes one case of them."""
    bodies = [
        ticket("马路中间有个大坑电动车差点摔倒", address_in("pd-s06", 1, offset=i % 3), "transport.pothole")
        for i in range(8)
    ]
    ids = await asyncio.gather(*(create(loop, body) for body in bodies))
    outcomes = ("cityloop.ticket.dispatched", "cityloop.ticket.merged")
    routed = {ticket_id: await timeline(loop, ticket_id, outcomes) for ticket_id in ids}
    cases = set()
    for trail in routed.values():
        outcome = next(e for e in trail if e["type"] in outcomes)
        cases.add(outcome["detail"]["case_id"])
    dispatched = [t for t, trail in routed.items() if any(e["type"] == outcomes[0] for e in trail)]
    assert len(dispatched) == 1, dispatched
    assert len(cases) == 1, cases
