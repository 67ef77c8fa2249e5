"""The intake process: the API gateway plus the consumer that keeps each ticket's state and trail."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.service_app import service_app, set_openapi
from cityloop.common.topics import CATALOGUE_SERVICES, TICKET_LIFECYCLE
from cityloop.intake import demo, gateway
from cityloop.intake.accounts import views as accounts
from cityloop.intake.accounts.throttle import LoginThrottle
from cityloop.intake.body_limit import BodySizeLimit, default_error_body
from cityloop.intake.gateway_openapi import gateway_document, load_snapshot
from cityloop.intake.open311 import api as open311_api
from cityloop.intake.open311.catalogue import on_catalogue
from cityloop.intake.rate_limits import RateLimit
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.tickets import views as tickets
from cityloop.intake.trail import anchors
from cityloop.intake.trail import flows as trail_flows
from cityloop.intake.trail.flows import record_lifecycle
from cityloop.intake.upstream import AiohttpUpstream, HttpxUpstream, Upstream
from cityloop.intake.vault import retention

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """The operators' API of the 12345 hotline (tickets, with the routing, deadline and callback
APIs of the other services behind the same gateway) and Open311 GeoReport v2 for civic apps.

Authenticate with `Authorization: Bearer <token>` (from `POST /api/v1/auth/token`) or `X-API-Key`.
Every error is `{"error", "message", "fields": [{"field", "problem"}]}`; Open311 errors follow the spec."""


def create_app(
    settings: IntakeSettings | None = None, *, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """``upstream_transport`` carries the gateway's forwarded calls (tests run the services in-process)."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    keyring = settings.keyring()

    async def on_lifecycle(conn: Conn, event: CloudEvent) -> None:
        await record_lifecycle(conn, event, keyring)

    runtime.consume("intake.trail", [TICKET_LIFECYCLE.name], on_lifecycle, wants=trail_flows.wants, busy=True)
    runtime.consume("intake.catalogue", [CATALOGUE_SERVICES.name], on_catalogue)
    runtime.background(
        "trail-anchors", lambda: anchors.run_forever(runtime.pool, every_seconds=settings.trail_anchor_seconds)
    )
    client: Upstream = (
        AiohttpUpstream(timeout_seconds=10.0)
        if upstream_transport is None
        else HttpxUpstream(upstream_transport, timeout_seconds=10.0)
    )

    async def seed_demo() -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await demo.seed(conn)

    if settings.demo_enabled:
        runtime.on_start(seed_demo)
    runtime.background(
        "vault-retention",
        lambda: retention.run_forever(
            runtime.pool,
            older_than_days=settings.personal_data_retention_days,
            every_seconds=settings.retention_interval_seconds,
        ),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            yield
        await client.aclose()

    app = service_app(
        runtime,
        title="CityLoop API",
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=[
            # The client address every limit sees (rate_limits.py): from X-Forwarded-For only via trusted proxies.
            Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, error_body=_error_body),
        ],
        openapi_tags=[
            {"name": "tickets", "description": "Create, read, search tickets and their trail"},
            {"name": "auth", "description": "Access tokens"},
            {"name": "audit", "description": "Who read full personal data"},
            {"name": "open311", "description": "Open311 GeoReport v2 (JSON and XML)"},
        ],
    )
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.open311_limit = RateLimit("open311", settings.open311_rate_limit)
    app.state.login_limit = RateLimit("login", settings.login_rate_limit)
    app.state.login_throttle = LoginThrottle(
        free=settings.login_backoff_free_failures,
        base_seconds=settings.login_backoff_base_seconds,
        max_seconds=settings.login_backoff_max_seconds,
    )
    app.include_router(accounts.router)
    app.include_router(tickets.router)
    open311_api.install(app)
    # Before the authenticated forwarding, which would otherwise catch /api/v1/callback-links/...
    app.include_router(gateway.public_router(settings, client))
    app.include_router(gateway.gateway_router(settings, client))
    set_openapi(app, lambda: gateway_document(FastAPI.openapi(app), load_snapshot()))
    return app


def _error_body(path: str, limit: int) -> tuple[bytes, str]:
    if path.startswith(open311_api.PREFIX):
        return open311_api.error_body_for_path(path, limit)
    return default_error_body(path, limit)
