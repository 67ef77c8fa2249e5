"""Rejections are data: repeated 退单 of one category by one department type towards another type
propose a catalogue correction in router's corrections queue, for a person to review."""

from typing import Any

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, router_client, ticket, timeline

CATEGORY = "sanitation.construction-waste"  # the catalogue: street:enforcement leads


async def proposals(loop: Loop) -> list[dict[str, Any]]:
    async with router_client(loop, "disp-proposals") as router:
        response = await router.get(
            "/api/v1/corrections", params={"status": "pending", "kind": "category_owner", "limit": 200}
        )
    assert response.status_code == 200, response.text
    return [
        c
        for c in response.json()["items"]
        if c["submitted_by"] == "router"
        and c["payload"] == {"category": CATEGORY, "lead": "district:environment", "assists": None}
    ]


async def test_repeated_rejections_propose_a_catalogue_correction(loop: Loop) -> None:
    ids = []
    for n, street in enumerate(("pd-s05", "pd-s06", "pd-s07")):
        assert await proposals(loop) == [], f"a proposal before the third rejection ({n})"
        ticket_id = await create(loop, ticket("工地的建筑垃圾直接倒在绿化带里", address_in(street, nth=3), CATEGORY))
        ids.append(ticket_id)
        async with DeptSystem(KAFKA, TOPIC_PREFIX, f"{street}-enforcement") as squad:
            task = await squad.next_task(ticket_id)
            assert task["data"]["role"] == "lead"
            await squad.answer(
                task,
                "cityloop.dept.rejected",
                reason="偷倒建筑垃圾污染环境, 应由生态环境局处理",
                suggested_dept="pd-environment",
            )
        await timeline(loop, ticket_id, "cityloop.ticket.rejected")
    proposed = await proposals(loop)
    assert len(proposed) == 1
    assert all(t in proposed[0]["reason"] for t in ids)
    assert "street:enforcement" in proposed[0]["reason"]
    # A person reviews it like any correction; approving it would change the catalogue (corrections tests).
    async with router_client(loop, "disp-reviewer") as router:
        reviewed = await router.post(
            f"/api/v1/corrections/{proposed[0]['id']}/review", json={"decision": "reject", "note": "偷倒仍由城管查处"}
        )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "rejected"
