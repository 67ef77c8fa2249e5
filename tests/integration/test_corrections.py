"""Data corrections: a street office reports an address in the wrong grid, a dispatcher approves, and the
next ticket at that address is routed by the corrected data; the trail keeps who, why and what was before."""

from cityloop.common.identity import Role
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline


async def dispatched_to(loop: Loop, ticket_id: str) -> str:
    trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
    return str(last(trail, "cityloop.ticket.dispatched")["detail"]["dept_code"])


async def test_an_approved_correction_changes_the_routing_of_the_next_ticket_there(loop: Loop) -> None:
    address = address_in("pd-s05", 1)
    body = ticket("残疾人补贴一直没有发放", address, "civil.disability")  # street office's matter; never merges
    assert await dispatched_to(loop, await create(loop, body)) == "pd-s05-office"

    async with (
        router_client(loop, "clerk-5", Role.DEPARTMENT, "pd-s05-office") as clerk,
        router_client(loop, "disp-2") as dispatcher,
    ):
        bad = await clerk.post(
            "/api/v1/corrections",
            json={
                "change": {"kind": "address_grid", "address": "某某小区", "grid": "pd-s06-c01-g01"},
                "reason": "地址不对",
            },
        )
        assert bad.status_code == 422
        assert bad.json()["fields"][0]["field"] == "change.address"
        submitted = await clerk.post(
            "/api/v1/corrections",
            json={
                "change": {"kind": "address_grid", "address": address, "grid": "pd-s06-c01-g01"},
                "reason": "该门牌2025年起划归相邻街道管辖",
            },
        )
        assert submitted.status_code == 201, submitted.text
        correction = submitted.json()
        assert correction["status"] == "pending"
        assert correction["submitter_dept"] == "pd-s05-office"

        # Pending changes nothing.
        assert await dispatched_to(loop, await create(loop, body)) == "pd-s05-office"
        assert (
            await clerk.post(f"/api/v1/corrections/{correction['id']}/review", json={"decision": "approve"})
        ).status_code == 403

        reviewed = await dispatcher.post(
            f"/api/v1/corrections/{correction['id']}/review", json={"decision": "approve", "note": "核实无误"}
        )
        assert reviewed.status_code == 200, reviewed.text
        trail = reviewed.json()
        assert (trail["status"], trail["reviewed_by"], trail["submitted_by"]) == ("approved", "disp-2", "clerk-5")
        assert trail["before"]["street"] == "pd-s05"
        again = await dispatcher.post(f"/api/v1/corrections/{correction['id']}/review", json={"decision": "reject"})
        assert again.status_code == 409
        listed = (await dispatcher.get("/api/v1/corrections", params={"status": "approved"})).json()
        assert correction["id"] in {c["id"] for c in listed["items"]}
        resolved = (await dispatcher.get("/api/v1/jurisdictions/resolve", params={"address": address})).json()
        assert resolved["grid"] == "pd-s06-c01-g01"
        assert resolved["how"] == "address (corrected)"

    assert await dispatched_to(loop, await create(loop, body)) == "pd-s06-office"


async def test_a_category_owner_correction_changes_who_leads(loop: Loop) -> None:
    body = ticket("燃气安检说软管要换收费很贵", address_in("qp-s01"), "gas.safety-check")
    assert await dispatched_to(loop, await create(loop, body)) == "qp-gas"
    async with router_client(loop, "disp-3") as proposer, router_client(loop, "disp-4") as reviewer:
        submitted = await proposer.post(
            "/api/v1/corrections",
            json={
                "change": {"kind": "category_owner", "category": "gas.safety-check", "lead": "district:market"},
                "reason": "上门推销燃气配件属市场监管",
            },
        )
        assert submitted.status_code == 201, submitted.text
        cid = submitted.json()["id"]
        assert (
            await reviewer.post(f"/api/v1/corrections/{cid}/review", json={"decision": "approve"})
        ).status_code == 200
        category = (await reviewer.get("/api/v1/categories/gas.safety-check")).json()
        assert (category["dept_level"], category["dept_type"]) == ("district", "market")
    assert await dispatched_to(loop, await create(loop, body)) == "qp-market"
