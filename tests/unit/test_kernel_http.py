"""The service kernel's HTTP side (libs/common service_app.py): every error is the JSON error body with a
request id, whatever raised it and wherever; the id is in the log and on the response."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send
from structlog.testing import capture_logs

from cityloop.common.errors import Conflict, NotFound
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.runtime import ServiceRuntime
from cityloop.common.service_app import service_app
from cityloop.common.settings import CommonSettings
from cityloop.sla.app import create_app as sla_app
from cityloop.sla.settings import SlaSettings


class Boom(RuntimeError):
    pass


def _app() -> FastAPI:
    app = service_app(ServiceRuntime(CommonSettings(), migrations=None), title="kernel test")

    @app.get("/api/v1/boom", operation_id="boom")
    async def boom() -> dict[str, str]:
        raise Boom("a bug nobody expected")

    @app.get("/api/v1/things/{thing_id}", operation_id="get_thing")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "taken":
            raise Conflict("the thing is taken", "thing_id", error="already_taken")
        raise NotFound(f"no thing {thing_id}", "thing_id")

    return app


@asynccontextmanager
async def _client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the test sees what a real client would, even if something re-raises.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


async def test_an_unexpected_error_is_a_json_500_with_the_request_id_also_in_the_log() -> None:
    async with _client(_app()) as client:
        with capture_logs() as logs:
            response = await client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "internal_error"
    request_id = body["request_id"]
    assert request_id
    assert response.headers["X-Request-ID"] == request_id
    [logged] = [entry for entry in logs if entry["event"] == "http.unexpected_error"]
    assert logged["request_id"] == request_id
    assert logged["path"] == "/api/v1/boom"
    assert logged["log_level"] == "error"
    assert logged["exc_info"] is True  # the traceback goes to the log, never to the client
    assert "Boom" not in response.text


async def test_the_callers_request_id_is_kept_and_a_malformed_one_replaced() -> None:
    async with _client(_app()) as client:
        kept = await client.get("/api/v1/boom", headers={"X-Request-ID": "gw-1234.abc"})
        replaced = await client.get("/api/v1/boom", headers={"X-Request-ID": "bad id\twith spaces"})
    assert kept.json()["request_id"] == "gw-1234.abc"
    assert kept.headers["X-Request-ID"] == "gw-1234.abc"
    assert replaced.json()["request_id"] not in {"", "bad id\twith spaces"}
    assert replaced.headers["X-Request-ID"] == replaced.json()["request_id"]


async def test_a_domain_error_is_the_json_error_body_naming_the_field() -> None:
    async with _client(_app()) as client:
        missing = await client.get("/api/v1/things/x", headers={"X-Request-ID": "r-1"})
        taken = await client.get("/api/v1/things/taken")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "no thing x",
        "fields": [{"field": "thing_id", "problem": "no thing x"}],
        "request_id": "r-1",
    }
    assert taken.status_code == 409
    assert taken.json()["error"] == "already_taken"
    assert taken.json()["request_id"] == taken.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/route", 404), ("DELETE", "/api/v1/boom", 405), ("GET", "/api/v1/things", 404)],
)
async def test_routing_errors_are_json_too(method: str, path: str, status: int) -> None:
    async with _client(_app()) as client:
        response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


class _FailingMiddleware:
    """A middleware mounted around the request id middleware that fails: Starlette's last resort answers."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise Boom("a middleware bug")
        await self._app(scope, receive, send)


async def test_an_error_outside_the_request_id_middleware_is_still_json() -> None:
    app = _app()
    app.add_middleware(_FailingMiddleware)  # added last: outermost, outside RequestContext
    async with _client(app) as client:
        with capture_logs() as logs:
            response = await client.get("/api/v1/things/x")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "internal_error"
    assert [entry["event"] for entry in logs] == ["http.unexpected_error"]


async def test_a_real_route_failing_unexpectedly_answers_json() -> None:
    """sla's deadlines route with its runtime never started: the pool is missing, a genuine bug path."""
    app = sla_app(SlaSettings())
    identity = encode_identity(Identity(subject="d1", role=Role.DISPATCHER), SlaSettings().internal_secret)
    async with _client(app) as client:
        with capture_logs() as logs:
            response = await client.get(
                "/api/v1/deadlines/tickets/T1", headers={HEADER: identity, "X-Request-ID": "req-from-gateway"}
            )
    assert response.status_code == 500
    assert response.json()["request_id"] == "req-from-gateway"
    assert response.headers["X-Request-ID"] == "req-from-gateway"
    assert any(e.get("request_id") == "req-from-gateway" for e in logs if e["event"] == "http.unexpected_error")


def _outage_app() -> FastAPI:
    settings = CommonSettings(retry_after_seconds=3)
    app = service_app(ServiceRuntime(settings, migrations=None), title="kernel test")

    @app.get("/api/v1/pool-busy", operation_id="pool_busy")
    async def pool_busy() -> dict[str, str]:
        raise TimeoutError  # what BoundedPool.acquire raises when its wait is over (db/pool.py)

    @app.get("/api/v1/db-restarting", operation_id="db_restarting")
    async def db_restarting() -> dict[str, str]:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")

    @app.get("/api/v1/db-terminating", operation_id="db_terminating")
    async def db_terminating() -> dict[str, str]:
        # a pooled connection the restarting server has just terminated (kafka/failures.py)
        raise asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress")

    @app.get("/api/v1/duplicate", operation_id="duplicate")
    async def duplicate() -> dict[str, str]:
        raise asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint")

    return app


@pytest.mark.parametrize("path", ["/api/v1/pool-busy", "/api/v1/db-restarting", "/api/v1/db-terminating"])
async def test_an_outage_under_a_request_is_a_503_with_retry_after_in_the_json_error_format(path: str) -> None:
    async with _client(_outage_app()) as client:
        response = await client.get(path)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    body = response.json()
    assert body["error"] == "unavailable"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_a_database_error_that_is_no_outage_stays_a_500() -> None:
    async with _client(_outage_app()) as client:
        response = await client.get("/api/v1/duplicate")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "Retry-After" not in response.headers
