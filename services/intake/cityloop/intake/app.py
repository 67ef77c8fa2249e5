"""The intake process: the API gateway plus the consumer that keeps each ticket's state and trail."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.http_errors import install_error_handlers
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.intake import api, gateway
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.tickets import record_lifecycle

MIGRATIONS = Path(__file__).parent / "migrations"


async def _on_lifecycle(conn: Conn, event: CloudEvent) -> None:
    await record_lifecycle(conn, event)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    runtime.consume("intake.trail", [TICKET_LIFECYCLE.name], _on_lifecycle)
    client = httpx.AsyncClient(timeout=10.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            yield
        await client.aclose()

    app = FastAPI(title="CityLoop API", version="1.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_error_handlers(app)
    runtime.attach(app)
    app.include_router(api.router)
    app.include_router(gateway.gateway_router(settings, client))
    return app
