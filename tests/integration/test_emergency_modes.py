"""Emergency mode over time, over the real broker and database: a router restarted mid-emergency rebuilds
the active set from control.mode; surge proposals are confirmed into declarations or dismissed; five
declare/stand-down cycles under a continuous ticket load leave every ticket with exactly one owner."""

import asyncio
import contextlib
import itertools
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from cityloop.common.contract import types
from cityloop.common.envelope import CloudEvent
from cityloop.router.app import create_app as router_app
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.integration.conftest import Loop
from tests.integration.emergency_support import (
    command_centre,
    declaration,
    declare,
    outbox_drained,
    rehomed,
    routing_record,
)
from tests.integration.routing_support import address_in, create, last, ticket, timeline


async def test_a_restarted_router_routes_by_the_emergency_in_force(loop: Loop) -> None:
    async with command_centre(loop) as command:
        e = await declare(command, declaration("ja"))
    await outbox_drained(loop)  # the declaration is on control.mode
    original = loop.runtime("router")
    await original.stop()
    fresh = router_app()  # a new process's memory: nothing but what control.mode says
    try:
        async with fresh.router.lifespan_context(fresh):
            await fresh.state.runtime.wait_consumers_ready()
            assert [m.id for m in fresh.state.router_ctx.modes] == [e["id"]]
            first = await create(loop, ticket("暴雨后地道积水很深", address_in("ja-s02"), "water.flooding"))
            routed = last(await timeline(loop, first, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
    finally:
        await original.start()
        await original.wait_consumers_ready()
    assert routed["detail"]["dept_code"] == "ja-ops"
    assert routed["detail"]["mode"] == {"kind": "emergency", "emergency_id": e["id"]}
    async with command_centre(loop) as command:
        assert (await command.post(f"/api/v1/emergencies/{e['id']}/stand-down")).status_code == 200
    await rehomed(loop)


async def publish_proposal(data: dict[str, Any]) -> None:
    """As the surge detector does: a cityloop.mode.emergency_proposed on control.mode, keyed by proposal id."""
    event = CloudEvent(
        id=f"{data['proposal_id']}:proposed",
        source="/cityloop/feedback/signals",
        type=types.MODE_EMERGENCY_PROPOSED,
        subject=data["proposal_id"],
        data=data,
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{TOPIC_PREFIX}control.mode",
            event.to_bytes(),
            key=data["proposal_id"].encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )
    finally:
        await producer.stop()


def proposal(street: str, district: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "proposal_id": f"P-{uuid.uuid4().hex[:10]}",
        "name": f"{street} 道路积水 surge",
        "category_group": "water",
        "categories": ["water.flooding"],
        "by_category": {"water.flooding": 12},
        "district": district,
        "street": street,
        "scope": {"districts": [], "streets": [street]},
        "count": 12,
        "window_seconds": 900,
        "window_start": now,
        "window_end": now,
        "baseline": 0.4,
        "threshold": 8,
        "ratio": 30.0,
        "suggested_level": "III",
        "proposed_at": now,
    }


async def pending(loop: Loop, proposal_id: str) -> dict[str, Any]:
    async with command_centre(loop) as command, asyncio.timeout(60):
        while True:
            listed = (await command.get("/api/v1/emergencies/proposals")).json()
            found = [p for p in listed["items"] if p["id"] == proposal_id]
            if found:
                shown: dict[str, Any] = found[0]
                return shown
            await asyncio.sleep(0.2)


async def test_a_proposal_is_confirmed_into_a_declaration_or_dismissed(loop: Loop) -> None:
    surge = proposal("cm-s05", "cm")
    await publish_proposal(surge)
    await publish_proposal(surge)  # re-published by a replaying detector: still one proposal
    shown = await pending(loop, surge["proposal_id"])
    assert shown["status"] == "pending"
    assert shown["proposed"]["count"] == 12
    async with command_centre(loop) as command:
        confirmed = await command.post(
            f"/api/v1/emergencies/proposals/{surge['proposal_id']}/confirm", json={"level": "II"}
        )
        assert confirmed.status_code == 201, confirmed.text
        e = confirmed.json()
        # Prefilled from the proposal; the body's level replaced the suggested one.
        assert (e["level"], e["proposal_id"], e["command_unit"]) == ("II", surge["proposal_id"], "cm-ops")
        assert e["scope"] == {"city": False, "districts": [], "streets": ["cm-s05"]}
        assert e["categories"] == ["water.flooding"]
        assert e["participants"]["water.flooding"] == ["cm-water", "cm-transport"]
        twice = await command.post(f"/api/v1/emergencies/proposals/{surge['proposal_id']}/confirm")
        assert twice.status_code == 422
        listed = (await command.get("/api/v1/emergencies/proposals", params={"status": "confirmed"})).json()
        assert surge["proposal_id"] in {p["id"] for p in listed["items"]}

        routed_id = await create(loop, ticket("小区门口积水没过膝盖", address_in("cm-s05"), "water.flooding"))
        routed = last(await timeline(loop, routed_id, "cityloop.ticket.dispatched"), "cityloop.ticket.dispatched")
        assert routed["detail"]["mode"]["emergency_id"] == e["id"]

        other = proposal("cm-s06", "cm")
        await publish_proposal(other)
        await pending(loop, other["proposal_id"])
        dismissed = await command.post(
            f"/api/v1/emergencies/proposals/{other['proposal_id']}/dismiss", json={"reason": "施工导致，非内涝"}
        )
        assert dismissed.status_code == 200, dismissed.text
        assert dismissed.json()["status"] == "dismissed"
        assert (await command.post(f"/api/v1/emergencies/{e['id']}/stand-down")).status_code == 200
    await rehomed(loop)


async def test_five_declare_and_stand_down_cycles_under_continuous_load(loop: Loop) -> None:  # noqa: PLR0915
    """Tickets keep coming in the district (in scope) and next door (out of scope) while an emergency is
    declared and stood down five times. At the end every ticket has exactly one lead, none is lost, none
    is left in emergency mode or holds tasks of both modes, and every switch it went through is on its
    trail exactly once."""
    created: list[tuple[str, bool]] = []
    stop = asyncio.Event()

    async def intake_load() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            inside = n % 2 == 0
            street = f"cn-s{(n % 8) + 1:02d}" if inside else f"hk-s{(n % 6) + 1:02d}"
            body = ticket(f"楼上漏水到我家天花板第{n}次", address_in(street, nth=n % 3), "housing.leak")
            created.append((await create(loop, body), inside))
            await asyncio.sleep(0.15)

    body = declaration(
        "cn",
        categories=["housing.leak"],
        participants={"housing.leak": ["cn-housing", "cn-emergency"]},
    )
    load = asyncio.create_task(intake_load())
    try:
        async with command_centre(loop) as command:
            for _cycle in range(5):
                await asyncio.sleep(1.0)
                e = await declare(command, body)
                await asyncio.sleep(1.0)
                stood = await command.post(f"/api/v1/emergencies/{e['id']}/stand-down")
                assert stood.status_code == 200, stood.text
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    for ticket_id, _inside in created:  # every ticket routed at least once (the last ones may still be in flight)
        await timeline(loop, ticket_id, "cityloop.ticket.dispatched")
    await rehomed(loop)
    await outbox_drained(loop)

    assert len(created) > 20
    in_scope = [t for t, inside in created if inside]
    for ticket_id, inside in created:
        record = await routing_record(loop, ticket_id)
        assert record["status"] in ("dispatched", "accepted"), (ticket_id, record["status"])
        live = [a for a in record["assignments"] if a["status"] in ("assigned", "accepted")]
        leads = [a for a in live if a["role"] == "lead"]
        assert len(leads) == 1, (ticket_id, live)
        assert record["emergency_id"] is None, ticket_id
        assert {a["mode"] for a in live} == {"peacetime"}, (ticket_id, live)
        district = "cn" if inside else "hk"
        assert leads[0]["dept_code"] == f"{district}-housing"
        if not inside:
            assert [a["mode"] for a in record["assignments"]] == ["peacetime"]

    # The trail: every dispatched the router made for a ticket, switching mode each time, ending peacetime.
    switched = Counter[str]()
    pool = loop.runtime("router").pool
    for ticket_id in in_scope:
        # What router announced for the ticket (its outbox keeps published rows) must all be on the trail.
        announced = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1 AND topic = 'ticket.lifecycle'"
            " AND convert_from(payload, 'UTF8')::jsonb ->> 'type' = 'cityloop.ticket.dispatched'",
            ticket_id,
        )
        trail = await timeline(loop, ticket_id, "cityloop.ticket.dispatched", count=announced)
        modes = [
            (e["detail"].get("mode") or {"kind": "peacetime"})["kind"]
            for e in trail
            if e["type"] == "cityloop.ticket.dispatched"
        ]
        assert len(modes) == announced, (ticket_id, modes)
        assert modes[-1] == "peacetime", (ticket_id, modes)
        # Each switch once: modes alternate, never two dispatches of the same mode in a row.
        assert all(a != b for a, b in itertools.pairwise(modes)), (ticket_id, modes)
        switched[ticket_id] = len(modes) - 1
    # The load spanned the cycles: some tickets were switched, some several times.
    assert sum(1 for n in switched.values() if n >= 2) > 0
    assert max(switched.values()) >= 4
