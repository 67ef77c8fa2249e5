"""五级应用 over the real broker: a 飞线充电 request at an address inside a grid reaches the grid team on its
street's topic (dept.<street>.tasks), the unit and the whole chain named in the task; the street's system
accepts on the unit's behalf."""

from cityloop.router.data.files import city_files
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.routing_support import address_in, create, last, ticket, timeline


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
