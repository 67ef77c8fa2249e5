"""The loop of data production and use: what the model is unsure of waits for a dispatcher; the
dispatcher's answer becomes a labelled example; retraining on command puts it into the model."""

from cityloop.router.classification.training import retrain_if_new_examples
from cityloop.router.settings import RouterSettings
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline

VAGUE = "我想反映一个情况，麻烦你们管一管，谢谢"
NEW_WAY_OF_SAYING_IT = "楼道里的声控灯坏了好几个月，晚上上下楼摸黑"


async def test_dispatcher_answers_become_examples_and_retraining_uses_them(loop: Loop) -> None:
    vague_id = await create(loop, ticket(VAGUE, address_in("sj-s03")))
    waiting = last(
        await timeline(loop, vague_id, "cityloop.ticket.needs_dispatcher"), "cityloop.ticket.needs_dispatcher"
    )
    assert waiting["detail"]["queue_reason"] == "low_confidence"
    why = waiting["detail"]["why"]
    # Short of the model's own bar: calibrated confidence, or the margin over the runner-up.
    assert why["confidence"] < why["bar"]["confidence"] or why["margin"] < why["bar"]["margin"]
    assert len(why["candidates"]) == 3

    async with router_client(loop, "disp-7") as router:
        before = (await router.get("/api/v1/routing/classifier")).json()
        assert before["seed_examples"] > 1000
        assert before["calibration"]["temperature"] > 0
        assert len(before["calibration"]["bar"]) == 2

        confirmed = await router.post(f"/api/v1/routing/{vague_id}/correct", json={"category": "community.services"})
        assert confirmed.status_code == 200
        assert confirmed.json()["outcome"] == "dispatched"

        corrected_ids = []
        for street in ("sj-s04", "sj-s05", "sj-s06"):
            ticket_id = await create(loop, ticket(NEW_WAY_OF_SAYING_IT, address_in(street)))
            corrected_ids.append(ticket_id)
        for ticket_id in corrected_ids:
            # Routed somewhere (perhaps wrongly) or queued: either way a dispatcher now corrects it.
            await timeline(loop, ticket_id, ("cityloop.ticket.dispatched", "cityloop.ticket.needs_dispatcher"))
            fixed = await router.post(
                f"/api/v1/routing/{ticket_id}/correct",
                json={"category": "community.facilities", "note": "楼道灯属小区设施"},
            )
            assert fixed.status_code == 200, fixed.text

        retrained = await router.post("/api/v1/routing/classifier/retrain")
        assert retrained.status_code == 200, retrained.text
        assert retrained.json()["labelled_examples"] >= 4
        after = (await router.get("/api/v1/routing/classifier")).json()
        # The scheduled worker's check: nothing labelled since this model, so no retraining.
        assert await retrain_if_new_examples(loop.runtime("router").pool, RouterSettings()) is None
        assert after["id"] > before["id"]
        assert after["trigger"] == "command:disp-7"

    next_id = await create(loop, ticket(NEW_WAY_OF_SAYING_IT, address_in("sj-s07")))
    detail = last(await timeline(loop, next_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")["detail"]
    assert detail["category"] == "community.facilities"
    assert detail["why"]["classified_by"] == "model"
    assert detail["dept_code"] == "sj-s07-office"
