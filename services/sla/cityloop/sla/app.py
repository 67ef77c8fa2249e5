"""The sla process: keeps clocks from ticket.lifecycle, runs the firing loop, serves /api/v1/deadlines and
the 督办 desks at /api/v1/supervision."""

from pathlib import Path

from fastapi import FastAPI

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.connection import client_options
from cityloop.common.modes import ModeView
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.service_app import service_app
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.sla import clocks
from cityloop.sla.api import deadlines_router
from cityloop.sla.firing import Firer
from cityloop.sla.metrics import count_live_timers
from cityloop.sla.settings import SlaSettings
from cityloop.sla.supervision.views import supervision_router

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    s = settings or SlaSettings()
    runtime = ServiceRuntime(s, migrations=MIGRATIONS)

    async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
        await clocks.on_lifecycle(conn, event, s)

    # control.mode in memory, read to its end before the consumers start (a restarted sla knows every
    # emergency in force before its first firing round), then followed: escalation goes by it (firing.py).
    modes = ModeView(s.kafka_bootstrap, s.topic_prefix, options=client_options(s))
    runtime.on_start(modes.load)
    runtime.background("sla.modes", modes.follow)

    async def fire() -> None:
        await Firer(runtime.pool, s, modes.active).run()

    async def count() -> None:
        await count_live_timers(runtime.pool, s.live_count_seconds)

    # sla reads ticket.lifecycle, where it also writes: its own events are skipped before any transaction.
    runtime.consume("sla.clocks", [TICKET_LIFECYCLE.name], on_lifecycle, types=clocks.HANDLED, busy=True)
    runtime.background("sla.firing", fire)
    runtime.background("sla.live-timers", count)

    app = service_app(runtime, title="CityLoop sla")
    app.state.modes = modes
    app.include_router(deadlines_router())
    app.include_router(supervision_router())
    return app
