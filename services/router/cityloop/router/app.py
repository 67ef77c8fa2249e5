"""The router process: consumes new tickets and departments' replies; serves dispatchers and master data."""

import re
from pathlib import Path

from fastapi import FastAPI

from cityloop.common.contract import types
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.connection import client_options
from cityloop.common.modes import ModeView
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.service_app import service_app
from cityloop.common.topics import (
    CONTROL_MODE,
    DEPT_UPDATES,
    DEPT_UPDATES_PATTERN,
    TICKET_LIFECYCLE,
    department_topics,
    dlq,
)
from cityloop.router import metrics
from cityloop.router.cases import views as cases
from cityloop.router.classification import views as classification
from cityloop.router.classification.training import ensure_model, run_schedule
from cityloop.router.context import RouterContext
from cityloop.router.corrections import views as corrections
from cityloop.router.dept_updates.flows import on_dept_update
from cityloop.router.dispatch.flows import on_ticket_created
from cityloop.router.dispatcher_actions import views as dispatcher_actions
from cityloop.router.effects import EMIT
from cityloop.router.emergencies import flows as emergency_flows
from cityloop.router.emergencies import views as emergencies
from cityloop.router.emergencies.metrics import ACTIVE
from cityloop.router.emergencies.rehoming import Rehomer
from cityloop.router.masterdata import store as master
from cityloop.router.masterdata import views as masterdata
from cityloop.router.masterdata.seed import seed_master_data
from cityloop.router.rehandle.flows import on_callback_recorded
from cityloop.router.settings import RouterSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: RouterSettings | None = None) -> FastAPI:
    settings = settings or RouterSettings()
    # Departments' notes arrive here in full: their events carry them redacted, the full text sealed for
    # intake's vault (libs/common contract/emitter.py).
    EMIT.keep_full_text(settings.vault_sealer())
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    ctx = RouterContext(settings)

    async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
        if event.type == types.TICKET_CREATED:
            await on_ticket_created(conn, event, ctx)
        elif event.type in emergency_flows.CLOCK_TYPES:
            await emergency_flows.on_clock(conn, event)
        elif event.type == types.CALLBACK_RECORDED:
            await on_callback_recorded(conn, event, ctx)

    async def on_update(conn: Conn, event: CloudEvent, topic: str) -> None:
        await on_dept_update(conn, event, ctx, topic=topic)

    async def on_control(conn: Conn, event: CloudEvent) -> None:
        await emergency_flows.proposal_received(conn, event.data, event.time)

    # control.mode in memory, read to its end before any consumer starts or any request is served.
    ctx.mode_view = ModeView(settings.kafka_bootstrap, settings.topic_prefix, options=client_options(settings))
    ctx.mode_view.listeners.append(lambda _event: ACTIVE.set(len(ctx.modes)))
    rehomer = Rehomer(runtime, ctx, batch=settings.rehome_batch, workers=settings.rehome_workers)

    async def load_master_data() -> None:
        async with runtime.pool.acquire() as conn:
            await seed_master_data(conn)
            await ctx.master.current(conn)

    async def ensure_department_topics() -> None:
        async with runtime.pool.acquire() as conn:
            codes = await master.department_codes(conn)
        await runtime.ensure_topics([spec for c in codes for spec in department_topics(c)])

    async def ensure_classifier() -> None:
        await ensure_model(runtime.pool, settings)

    runtime.on_start(ctx.mode_view.load)
    runtime.on_start(load_master_data)
    if settings.task_topics_at_start:
        runtime.on_start(ensure_department_topics)
    runtime.on_start(ensure_classifier)
    # Only the types it acts on: the rest (its own dispatched events among them, hundreds of thousands
    # after an emergency switch) are passed over on their type, unparsed and without a transaction.
    lifecycle_types = {types.TICKET_CREATED, types.CALLBACK_RECORDED, *emergency_flows.CLOCK_TYPES}
    # Its partitions side by side: tickets meet only in cases, whose matching takes a lock per category.
    runtime.consume(
        "router.intake", [TICKET_LIFECYCLE.name], on_lifecycle, types=lifecycle_types, concurrent=True, busy=True
    )
    # Every department's own dept.<code>.updates (the topic names the sender), and the shared dept.updates of the
    # first release during its transition (README "Changes to the contract"); one group, so the offsets it
    # committed on dept.updates stay. Refusals from either go to dept.updates.dlq.
    runtime.consume_sourced(
        "router.dept-updates",
        rf"{re.escape(DEPT_UPDATES.name)}|{DEPT_UPDATES_PATTERN}",
        on_update,
        dlq=lambda _topic: dlq(DEPT_UPDATES).name,
    )
    runtime.consume("router.proposals", [CONTROL_MODE.name], on_control, types={types.MODE_EMERGENCY_PROPOSED})
    runtime.background("router.retrain", lambda: run_schedule(runtime.pool, settings))
    runtime.background("router.ticket-gauges", lambda: metrics.count_tickets(runtime.pool))
    runtime.background("router.modes", ctx.mode_view.follow)
    runtime.background("router.rehoming", rehomer.run)

    app = service_app(runtime, title="CityLoop router")
    app.state.router_ctx = ctx
    app.state.rehomer = rehomer
    # cases and classification first: dispatcher_actions' /api/v1/routing/{ticket_id} would catch their paths
    for views in (cases, classification, dispatcher_actions, masterdata, corrections, emergencies):
        app.include_router(views.router)
    return app
