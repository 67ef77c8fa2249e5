"""五级应用 over the real broker: a 飞线充电 request at an address inside a grid reaches the grid team on its
street's topic (dept.<street>.tasks), the unit and the whole chain named in the task; the street's system
accepts on the unit's behalf; a platform forwards what it could not place to one of its grid teams."""

from cityloop.router.data.files import city_files
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, ticket, timeline
from tests.integration.test_rejections import dlq_reason


async def test_ev_charging_in_a_grid_reaches_the_grid_team_on_its_streets_topic(loop: Loop) -> None:
    street = "yp-s09"
    grid = [g for g in city_files().grids if g.code.startswith(f"{street}-")][5]
    body = ticket("有人从楼上拉电线下来给电瓶车充电", address_in(street, 5), "power.ev-charging")
    ticket_id = await create(loop, body)
    async with DeptSystem(KAFKA, TOPIC_PREFIX, street) as platform:
        event = await platform.next_task(ticket_id)
        task = event["data"]
        assert event["type"] == "cityloop.task.assigned"
        assert (task["dept_code"], task["role"], task["category"]) == (street, "lead", "power.ev-charging")
        chain = {"district": "yp", "street": street, "community": grid.community, "grid": grid.code}
        assert task["location"]["chain"] == chain
        assert task["unit"]["level"] == "grid"
        assert task["unit"]["code"] == grid.code
        assert task["unit"]["chain"] == chain
        assert task["unit"]["name"].endswith("网格")
        # The street's system accepts on the grid team's behalf.
        await platform.answer(event, "cityloop.dept.accepted", note=f"{task['unit']['name']}已签收")
        trail = await timeline(loop, ticket_id, "cityloop.ticket.accepted")
    dispatched = last(trail, "cityloop.ticket.dispatched")["detail"]
    assert dispatched["dept_code"] == street
    assert dispatched["unit"]["code"] == grid.code
    assert dispatched["supervisors"] == ["yp-ops", "city-ops"]
    shown = (await loop.intake.get(f"/api/v1/tickets/{ticket_id}")).json()
    assert (shown["status"], shown["dept_code"]) == ("accepted", street)


async def test_a_street_platform_forwards_what_it_could_not_place_to_a_grid_team(loop: Loop) -> None:
    street = next(s for s in city_files().streets if s.code == "yp-s10")
    grid = next(g for g in city_files().grids if g.code.startswith(f"{street.code}-"))
    elsewhere = next(g for g in city_files().grids if g.code.startswith("yp-s11-"))
    body = ticket("小区里飞线充电到处都是", f"杨浦区{street.name}", "power.ev-charging")
    ticket_id = await create(loop, body)
    async with DeptSystem(KAFKA, TOPIC_PREFIX, street.code) as platform:
        event = await platform.next_task(ticket_id)
        assert event["data"]["unit"] is None  # only the street is known: the platform places it
        refused = await platform.answer(event, "cityloop.dept.forwarded", unit=elsewhere.code)
        assert b"not in" in await dlq_reason(refused["id"])
        await platform.answer(event, "cityloop.dept.forwarded", unit=grid.code, note="交网格员核实")
        confirmed = await platform.next_task(ticket_id)
        assert (confirmed["type"], confirmed["data"]["change"]) == ("cityloop.task.updated", "forwarded")
        assert confirmed["data"]["unit"]["code"] == grid.code
        assert confirmed["data"]["unit"]["chain"]["grid"] == grid.code
        # The platform answers for the unit: it accepts on the grid team's behalf.
        await platform.answer(event, "cityloop.dept.accepted", note="网格员已签收")
        trail = await timeline(loop, ticket_id, "cityloop.ticket.accepted")
    forwarded = last(trail, "cityloop.ticket.progress")["detail"]
    assert (forwarded["update"], forwarded["dept_code"]) == ("forwarded", street.code)
    assert grid.code in forwarded["note"]
