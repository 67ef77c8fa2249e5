"""The router process: consumes new tickets and departments' replies; serves master data reads."""

from pathlib import Path

from fastapi import FastAPI

from cityloop.common.contract import types
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.http_errors import install_error_handlers
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.topics import DEPT_UPDATES, TICKET_LIFECYCLE, dept_tasks
from cityloop.router import queries
from cityloop.router.dept_updates import on_dept_update
from cityloop.router.dispatch import on_ticket_created
from cityloop.router.settings import RouterSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: RouterSettings | None = None) -> FastAPI:
    settings = settings or RouterSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)

    async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
        if event.type == types.TICKET_CREATED:
            # Master data is small and read per ticket inside the same transaction: always current.
            await on_ticket_created(conn, event, await queries.load_catalogue(conn))

    async def ensure_department_topics() -> None:
        async with runtime.pool.acquire() as conn:
            codes = await queries.department_codes(conn)
        await runtime.ensure_topics([dept_tasks(c) for c in codes])

    runtime.on_start(ensure_department_topics)
    runtime.consume("router.intake", [TICKET_LIFECYCLE.name], on_lifecycle)
    runtime.consume("router.dept-updates", [DEPT_UPDATES.name], on_dept_update)

    app = FastAPI(title="CityLoop router", version="1.0", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    runtime.attach(app)
    return app
