"""Emergency mode end to end over the real broker and database: declare, route under it, 退单 stays,
stand down; overlapping emergencies; the API's refusals. Each test uses districts no other test uses, and
stands its emergencies down, because the four services are shared by the whole session."""

from datetime import datetime
from typing import Any

from cityloop.common.identity import Role
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.emergency_support import (
    command_centre,
    declaration,
    declare,
    rehomed,
    routing_record,
    sla_client,
)
from tests.integration.routing_support import address_in, create, last, router_client, ticket, timeline


def minutes_between(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60


async def test_declare_route_reject_and_stand_down(loop: Loop) -> None:  # noqa: PLR0915 — one story, in order
    async with command_centre(loop) as command:
        emergency = await declare(command, declaration("mh"))
    eid = emergency["id"]
    assert emergency["status"] == "active"
    assert emergency["declared_by"] == "command_centre:cmd-1"

    # In scope: the command leads, every participating department gets the task at once.
    inside = await create(loop, ticket("暴雨后路口积水很深车都熄火了", address_in("mh-s01"), "water.flooding"))
    # Out of scope, the same minute: peacetime rules.
    outside = await create(loop, ticket("暴雨后路口积水很深车都熄火了", address_in("fx-s01"), "water.flooding"))
    async with (
        DeptSystem(KAFKA, TOPIC_PREFIX, "mh-ops") as ops,
        DeptSystem(KAFKA, TOPIC_PREFIX, "mh-water") as water,
        DeptSystem(KAFKA, TOPIC_PREFIX, "mh-transport") as transport,
        DeptSystem(KAFKA, TOPIC_PREFIX, "mh-emergency") as rescue,
        DeptSystem(KAFKA, TOPIC_PREFIX, "fx-water") as fx_water,
    ):
        tasks = {d.dept_code: (await d.next_task(inside))["data"] for d in (ops, water, transport, rescue)}
        assert {code: t["role"] for code, t in tasks.items()} == {
            "mh-ops": "lead",
            "mh-water": "assist",
            "mh-transport": "assist",
            "mh-emergency": "assist",
        }
        for d in (ops, water, transport, rescue):
            assert tasks[d.dept_code]["mode"] == {"kind": "emergency", "emergency_id": eid}
            # sla's deadlines in the emergency's wall-clock minutes: accept in 10, resolve in 120.
            deadlines = (await d.next_deadlines(inside))["data"]["deadlines"]
            assert minutes_between(deadlines["accept_by"], deadlines["resolve_by"]) == 110
        peacetime = (await fx_water.next_task(outside))["data"]
        assert (peacetime["role"], peacetime["mode"]["kind"]) == ("lead", "peacetime")
        # Peacetime: resolve within the catalogue's working days, not the emergency's minutes.
        peace_deadlines = (await fx_water.next_deadlines(outside))["data"]["deadlines"]
        assert minutes_between(peace_deadlines["accept_by"], peace_deadlines["resolve_by"]) != 110

        dispatched = last(await timeline(loop, inside, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
        detail = dispatched["detail"]
        assert detail["dept_code"] == "mh-ops"
        assert detail["mode"] == {"kind": "emergency", "emergency_id": eid}
        assert detail["command_unit"] == "mh-ops"
        assert detail["supervisors"] == ["mh-ops"]  # escalation goes straight to the command
        assert {a["dept_code"] for a in detail["assists"]} == {"mh-water", "mh-transport", "mh-emergency"}
        out_detail = last(await timeline(loop, outside, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
        assert out_detail["detail"]["dept_code"] == "fx-water"
        assert out_detail["detail"].get("mode") is None

        # sla runs the lead's clocks in the emergency's minutes and escalates to the command.
        async with sla_client(loop) as sla:
            clocks = (await sla.get(f"/api/v1/deadlines/tickets/{inside}")).json()["clocks"]
        accept = next(c for c in clocks if c["kind"] == "accept" and c["state"] == "open")
        assert accept["mode"] == "emergency"
        assert accept["dept_code"] == "mh-ops"

        # 退单 under emergency, naming no other owner (peacetime refuses that: test_rejections.py): a note to
        # the command, the task stays (先行处置).
        await water.answer({"data": tasks["mh-water"]}, "cityloop.dept.rejected", reason="不归水务管")
        note = await ops.next_task(inside)
        assert (note["type"], note["data"]["change"]) == ("cityloop.task.updated", "rejection_noted")
        assert "先行处置" in note["data"]["note"]
        trail = await timeline(loop, inside, "cityloop.ticket.progress")
        noted = last(trail, "cityloop.ticket.progress")["detail"]
        assert (noted["update"], noted["outcome"]) == ("rejection_noted", "task_stays")
        record = await routing_record(loop, inside)
        water_task = next(a for a in record["assignments"] if a["dept_code"] == "mh-water")
        assert water_task["status"] == "assigned"
        assert record["rejections"] == []

        # The command reads its live counts.
        async with command_centre(loop) as command:
            live = (await command.get(f"/api/v1/emergencies/{eid}")).json()
        assert live["counts"]["open_tickets"] == 1
        assert live["counts"]["unaccepted"] == 4
        assert {(r["dept_code"], r["role"]) for r in live["counts"]["tasks_by_department"]} == {
            ("mh-ops", "lead"),
            ("mh-water", "assist"),
            ("mh-transport", "assist"),
            ("mh-emergency", "assist"),
        }
        assert [step["action"] for step in live["trail"]][:1] == ["declared"]
        assert "read" not in {step["action"] for step in live["trail"]}

        # Every call is on the trail, reads too: who, when, what (the list's and the proposals' as well).
        async with command_centre(loop) as command:
            assert (await command.get("/api/v1/emergencies", params={"active": "true"})).status_code == 200
            assert (await command.get("/api/v1/emergencies/proposals")).status_code == 200
            audited = (await command.get(f"/api/v1/emergencies/{eid}", params={"reads": "true"})).json()
        reads = [step for step in audited["trail"] if step["action"] == "read"]
        assert [(r["actor"], r["detail"]["what"]) for r in reads] == [
            ("command_centre:cmd-1", f"GET /api/v1/emergencies/{eid}"),  # the live counts read above
            ("command_centre:cmd-1", f"GET /api/v1/emergencies/{eid}"),  # this one
        ]
        assert all(r["at"] for r in reads)
        async with loop.apps["router"].state.runtime.pool.acquire() as conn:
            others = await conn.fetch(
                "SELECT actor, detail FROM emergency_log WHERE action = 'read' AND emergency_id IS NULL"
                " AND actor = 'command_centre:cmd-1' ORDER BY id"
            )
        assert [(r["detail"]["what"], r["detail"]["query"]) for r in others][-2:] == [
            ("GET /api/v1/emergencies", {"active": "true"}),
            ("GET /api/v1/emergencies/proposals", {}),
        ]

        # Stand down: back to the peacetime lead with peacetime deadlines; joint tasks withdrawn.
        async with command_centre(loop) as command:
            stood = await command.post(f"/api/v1/emergencies/{eid}/stand-down", json={"note": "雨停水退"})
            assert stood.status_code == 200, stood.text
            assert stood.json()["status"] == "stood_down"
            stood_down_at = datetime.fromisoformat(stood.json()["stood_down_at"])
        await rehomed(loop)
        withdrawn = await ops.next_task(inside)
        assert withdrawn["type"] == "cityloop.task.withdrawn"
        assert (await rescue.next_task(inside))["type"] == "cityloop.task.withdrawn"
        lead_again = await water.next_task(inside)
        assert (lead_again["type"], lead_again["data"]["change"]) == ("cityloop.task.updated", "mode_changed")
        assert lead_again["data"]["mode"]["kind"] == "peacetime"
        assist_again = await transport.next_task(inside)  # the catalogue's 协办 for flooding keeps its task
        assert assist_again["data"]["change"] == "mode_changed"

    trail = await timeline(loop, inside, "cityloop.ticket.dispatched", count=2)
    back = last(trail, "cityloop.ticket.dispatched")["detail"]
    assert back["dept_code"] == "mh-water"
    assert back["mode"]["kind"] == "peacetime"
    assert back["rehomed"]["reason"] == "stand-down"
    assert back["rehomed"]["from_emergency"] == eid
    record = await routing_record(loop, inside)
    live_tasks = {(a["dept_code"], a["role"], a["mode"]) for a in record["assignments"] if a["status"] in ("assigned",)}
    assert live_tasks == {("mh-water", "lead", "peacetime"), ("mh-transport", "assist", "peacetime")}
    assert record["emergency_id"] is None
    # sla has handled the stand-down's dispatch once its second deadlines_set is on the trail.
    await timeline(loop, inside, "cityloop.sla.deadlines_set", count=2)
    async with sla_client(loop) as sla:
        clocks = (await sla.get(f"/api/v1/deadlines/tickets/{inside}")).json()["clocks"]
    open_clocks = [c for c in clocks if c["state"] == "open"]
    assert {c["kind"] for c in open_clocks} >= {"accept", "resolve"}
    assert {(c["dept_code"], c["mode"]) for c in open_clocks} == {("mh-water", "peacetime")}
    # Counted from the stand-down, not from the report.
    assert all(datetime.fromisoformat(c["started_at"]) >= stood_down_at for c in open_clocks)

    async with command_centre(loop) as command:
        again = await command.post(f"/api/v1/emergencies/{eid}/stand-down")
        assert again.status_code == 422
        assert again.json()["fields"][0]["field"] == "status"
        listed = (await command.get("/api/v1/emergencies", params={"active": "false"})).json()
        assert eid in {e["id"] for e in listed["items"]}
        final = (await command.get(f"/api/v1/emergencies/{eid}")).json()
    assert [s["action"] for s in final["trail"]] == ["declared", "rehomed", "stood_down", "rehomed"]


async def test_overlapping_emergencies_the_higher_level_wins(loop: Loop) -> None:
    async with command_centre(loop) as command:
        district = await declare(command, declaration("bs", level="III"))
        street = await declare(
            command,
            declaration(
                "bs",
                name="宝山一街道 特大内涝",
                level="I",
                scope={"districts": [], "streets": ["bs-s02"]},
                command_unit="city-ops",
            ),
        )
    in_both = await create(loop, ticket("小区门口积水没过膝盖", address_in("bs-s02"), "water.flooding"))
    only_district = await create(loop, ticket("路口积水没过膝盖", address_in("bs-s05"), "water.flooding"))
    both = last(await timeline(loop, in_both, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")["detail"]
    one = last(await timeline(loop, only_district, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")[
        "detail"
    ]
    assert (both["dept_code"], both["mode"]["emergency_id"]) == ("city-ops", street["id"])
    assert (one["dept_code"], one["mode"]["emergency_id"]) == ("bs-ops", district["id"])

    # The level I stood down: its ticket falls to the district's emergency, still in force there.
    async with command_centre(loop) as command:
        assert (await command.post(f"/api/v1/emergencies/{street['id']}/stand-down")).status_code == 200
        await rehomed(loop)
        moved = last(await timeline(loop, in_both, "cityloop.ticket.dispatched", count=2), "cityloop.ticket.dispatched")
        assert (moved["detail"]["dept_code"], moved["detail"]["mode"]["emergency_id"]) == ("bs-ops", district["id"])
        assert (await command.post(f"/api/v1/emergencies/{district['id']}/stand-down")).status_code == 200
        await rehomed(loop)
    record = await routing_record(loop, in_both)
    assert [a["dept_code"] for a in record["assignments"] if a["status"] == "assigned" and a["role"] == "lead"] == [
        "bs-water"
    ]


async def test_bad_declarations_are_refused_naming_the_field(loop: Loop) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (declaration("jd", scope={"districts": ["nowhere"], "streets": []}), "scope.districts.0"),
        (declaration("jd", scope={"districts": [], "streets": []}), "scope"),
        (declaration("jd", categories=["water.flooding", "no.such"]), "categories.1"),
        (declaration("jd", command_unit="jd-water"), "command_unit"),
        (declaration("jd", participants={"water.flooding": ["jd-nobody"]}), "participants.water.flooding.0"),
        (declaration("jd", level="V"), "level"),
        (
            declaration("jd", deadlines={"accept_minutes": 0, "onsite_minutes": 1, "resolve_minutes": 1}),
            "deadlines.accept_minutes",
        ),
    ]
    async with command_centre(loop) as command:
        for body, field in cases:
            response = await command.post("/api/v1/emergencies", json=body)
            assert response.status_code == 422, (field, response.text)
            assert field in {f["field"] for f in response.json()["fields"]}, (field, response.json())
        missing = await command.patch("/api/v1/emergencies/E-nope", json={"categories": ["water.flooding"]})
        assert missing.status_code == 404
        assert (await command.get("/api/v1/emergencies/E-nope")).status_code == 404
    async with router_client(loop, "disp-1", Role.DISPATCHER) as dispatcher:
        refused = await dispatcher.post("/api/v1/emergencies", json=declaration("jd"))
        assert refused.status_code == 403
        assert (await dispatcher.get("/api/v1/emergencies")).status_code == 200  # dispatchers may read


async def test_an_update_widens_the_scope_and_pulls_open_tickets_in(loop: Loop) -> None:
    waiting = await create(loop, ticket("路面积水严重", address_in("pt-s03"), "water.flooding"))
    await timeline(loop, waiting, "cityloop.ticket.dispatched")
    async with command_centre(loop) as command:
        e = await declare(command, declaration("pt", scope={"districts": [], "streets": ["pt-s01"]}))
        await rehomed(loop)
        assert (await routing_record(loop, waiting))["emergency_id"] is None
        patched = await command.patch(
            f"/api/v1/emergencies/{e['id']}",
            json={"scope": {"districts": [], "streets": ["pt-s01", "pt-s03"]}},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["version"] == 2
        await rehomed(loop)
        record = await routing_record(loop, waiting)
        assert record["emergency_id"] == e["id"]
        lead = [a for a in record["assignments"] if a["role"] == "lead" and a["status"] == "assigned"]
        assert [a["dept_code"] for a in lead] == ["pt-ops"]
        assert (await command.post(f"/api/v1/emergencies/{e['id']}/stand-down")).status_code == 200
        await rehomed(loop)
    assert (await routing_record(loop, waiting))["emergency_id"] is None
