"""sla is the one owner of deadlines, end to end: the router's task carries none, sla's reach the
department's topic, the ticket's trail and the ticket itself."""

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.test_skeleton_loop import fresh_ticket, wait_for_timeline


async def test_critical_ticket_is_accepted_by_fifteen_minutes_after_the_report(loop: Loop) -> None:
    created = await loop.intake.post("/api/v1/tickets", json={**fresh_ticket(), "urgency": "critical"})
    assert created.status_code == 201, created.text
    ticket = created.json()
    reported = datetime.fromisoformat(ticket["created_at"])

    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket["id"])
        assert (task["type"], task["data"]["urgency"], task["data"]["deadlines"]) == (
            "cityloop.task.assigned",
            "critical",
            None,
        )
        update = await dept.next_deadlines(ticket["id"])
    assert (update["type"], update["data"]["change"]) == ("cityloop.task.updated", "deadline_set")
    told: dict[str, Any] = update["data"]["deadlines"]
    assert datetime.fromisoformat(told["accept_by"]) == reported + timedelta(minutes=15)
    assert datetime.fromisoformat(told["on_site_by"]) == reported + timedelta(hours=1)
    assert isinstance(told["estimated"], bool)

    trail = await wait_for_timeline(loop.intake, ticket["id"], "cityloop.sla.deadlines_set")
    dispatched = next(e for e in trail if e["type"] == "cityloop.ticket.dispatched")
    assert dispatched["detail"].get("deadlines") is None  # the router computes none
    stated = next(e for e in trail if e["type"] == "cityloop.sla.deadlines_set")["detail"]["deadlines"]
    assert datetime.fromisoformat(stated["accept"]) - reported <= timedelta(minutes=15)
    assert {k: datetime.fromisoformat(v) for k, v in stated.items()} == {
        "accept": datetime.fromisoformat(told["accept_by"]),
        "on_site": datetime.fromisoformat(told["on_site_by"]),
        "resolve": datetime.fromisoformat(told["resolve_by"]),
    }
    shown = (await loop.intake.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert {k: datetime.fromisoformat(shown[k]) for k in ("accept_by", "on_site_by", "resolve_by")} == {
        k: datetime.fromisoformat(told[k]) for k in ("accept_by", "on_site_by", "resolve_by")
    }
