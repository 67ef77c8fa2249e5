"""sla follows control.mode: restarted while an emergency is in force, it knows the emergency before its
first firing round and escalates an in-scope overdue task straight to the command unit, even one its
dispatch set in peacetime (re-homing had not reached it yet). An sla of its own: own database, own topic
prefix, the shortened policies of conftest.py."""

import uuid
from datetime import UTC, datetime
from typing import Any

from cityloop.common.contract import types
from cityloop.common.contract.emergencies import EmergencyDeadlines, EmergencyDeclared, EmergencyScope
from cityloop.common.contract.emitter import Emitter
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import CONTROL_MODE, TICKET_LIFECYCLE, dept_tasks, ensure_topics
from cityloop.sla.app import create_app
from cityloop.sla.policy import PolicyBook
from cityloop.sla.settings import SlaSettings
from tests import stand_ins
from tests.conftest import RUN_ID, TOPIC_PREFIX
from tests.databases import scratch_database
from tests.integration.sla.conftest import RULES, SHORT, SUPERVISORS, TopicReader

COMMAND = "sla-ops"


def _steps(trail: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (e["data"]["detail"]["step"], e["data"]["detail"].get("to"))
        for e in trail
        if e["type"] == types.SLA_ESCALATED and e["data"]["detail"].get("kind") == "accept"
    ]


async def test_sla_restarted_during_an_emergency_escalates_an_in_scope_task_to_the_command(kafka: str) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"{TOPIC_PREFIX}slamode{run}."
    await ensure_topics(kafka, prefix, [CONTROL_MODE, TICKET_LIFECYCLE, dept_tasks("sla-street")])
    async with scratch_database(f"cityloop_test_{RUN_ID}_slamode") as dsn:
        settings = SlaSettings(
            database_url=dsn,
            topic_prefix=prefix,
            kafka_bootstrap=kafka,
            policies=PolicyBook(peacetime=SHORT, rules=RULES),
            tick_seconds=0.1,
        )
        producer = EventProducer(kafka, prefix, client_id="tests.sla-mode")
        lifecycle = TopicReader(kafka, f"{prefix}{TICKET_LIFECYCLE.name}")
        await producer.start()
        await lifecycle.start()
        try:
            # sla runs, and goes down.
            first = create_app(settings)
            async with first.router.lifespan_context(first):
                await first.state.runtime.wait_consumers_ready()
            # While it is down, an emergency is declared for district sla-d1 (router's event on control.mode).
            emergency = EmergencyDeclared(
                id=f"E-{run}",
                name="暴雨",
                level="II",
                scope=EmergencyScope(districts=["sla-d1"]),
                categories=["water"],
                command_unit=COMMAND,
                deadlines=EmergencyDeadlines(accept_minutes=10, onsite_minutes=30, resolve_minutes=120),
                declared_by="command_centre:test",
                declared_at=datetime.now(UTC),
            )
            event = Emitter(source="/tests/router", actor="router").event(
                types.MODE_EMERGENCY_DECLARED, emergency, subject=emergency.id
            )
            await producer.publish(CONTROL_MODE.name, event)

            # Restarted: memory is not the source of truth, control.mode is.
            second = create_app(settings)
            async with second.router.lifespan_context(second):
                await second.state.runtime.wait_consumers_ready()
                assert [e.id for e in second.state.modes.active()] == [emergency.id]
                # In scope and category, dispatched in peacetime (re-homing has not reached it), and one
                # outside the scope: the first climbs to the command, the second up the peacetime chain.
                inside, outside = f"T-slamode-{run}-in", f"T-slamode-{run}-out"
                for ticket_id, district in ((inside, "sla-d1"), (outside, "sla-d2")):
                    dispatched = stand_ins.lifecycle(
                        "/tests/router",
                        types.TICKET_DISPATCHED,
                        ticket_id,
                        None,
                        {
                            "dept_code": "sla-street",
                            "assignment_id": f"A-{ticket_id}",
                            "category": "water.flooding",
                            "urgency": "normal",
                            "supervisors": SUPERVISORS,
                            "location": {"chain": {"district": district, "street": f"{district}-s01"}},
                        },
                    )
                    await producer.publish(TICKET_LIFECYCLE.name, dispatched)
                trail = await lifecycle.wait_for(inside, lambda t: ("notice", None) in _steps(t))
                other = await lifecycle.wait_for(outside, lambda t: ("notice", None) in _steps(t))
        finally:
            await lifecycle.stop()
            await producer.stop()
    assert _steps(trail) == [("command", COMMAND), ("notice", None)]
    assert _steps(other) == [("supervise", SUPERVISORS[0]), ("supervise", SUPERVISORS[1]), ("notice", None)]
