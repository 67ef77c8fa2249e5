"""One JSON error shape for every HTTP error, naming each bad field and the problem (the documented error format):
``{"error", "message", "fields": [{"field", "problem"}], "request_id"}``.

The handlers here cover a domain refusal (errors.py), bad input, an HTTP error (404, 405, 401...), an outage
of the database (503 with Retry-After) and,
as Starlette's last resort, an unexpected exception; request_context.py catches the unexpected ones first.
"""

import re
from typing import Any

import asyncpg
import asyncpg.exceptions._base as asyncpg_base
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityloop.common.errors import DomainError
from cityloop.common.kafka.failures import Failure, classify
from cityloop.common.request_context import current_request_id, internal_error_body, request_id_of

log = structlog.get_logger(__name__)


class FieldProblem(BaseModel):
    field: str = Field(description="the input at fault, dotted for nested fields (e.g. `location.lat`)")
    problem: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API (Open311 keeps its spec's own error format)."""

    error: str = Field(description="a stable code: validation_failed, not_found, conflict, forbidden, ...")
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)
    request_id: str | None = Field(default=None, description="quote it to the operators: it is in their logs")


def error_body(error: str, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    return body


def problem(
    status: int, error: str, message: str, fields: list[dict[str, str]] | None = None, headers: Any = None
) -> JSONResponse:
    return JSONResponse(error_body(error, message, fields), status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    # Drop the "body"/"query" prefix: operators think in field names, not request parts.
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "form"}:
        parts = parts[1:]
    return ".".join(parts) or "request"


# A model-level check that names its field as "field: problem" (the convention of contract/models.py).
_NAMED = re.compile(r"^Value error, ([A-Za-z_][A-Za-z0-9_.]*): (.+)$", re.DOTALL)


def _field_problem(err: dict[str, Any]) -> dict[str, str]:
    field, problem = _field_name(err["loc"]), str(err["msg"])
    named = _NAMED.match(problem)
    if named:
        field = named.group(1) if field == "request" else f"{field}.{named.group(1)}"
        problem = named.group(2)
    return {"field": field, "problem": problem}


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [_field_problem(err) for err in exc.errors()]
    return problem(422, "validation_failed", "the request has invalid fields", fields)


async def _domain(_: Request, exc: DomainError) -> JSONResponse:
    fields = [{"field": exc.field, "problem": exc.problem}] if exc.field else None
    return problem(exc.status, exc.code, exc.message, fields)


async def _http(_: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc.detail, dict):
        # Raised with the error body as detail (identity.py's 401/403): keep its code, message and fields.
        d = exc.detail
        error, message = str(d.get("error", "http_error")), str(d.get("message", ""))
        return problem(exc.status_code, error, message, d.get("fields"), headers=exc.headers)
    return problem(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)


async def _data_error(_: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot store or read (NUL in text, an integer beyond 64 bits, a date out of range,
    # an untranslatable character) that input_guard.py did not stop: bad input, so a 422 and not a 500.
    log.warning("http.data_error", error=repr(exc))
    return problem(422, "validation_failed", f"a value is out of range or not storable: {type(exc).__name__}")


async def _outage(request: Request, exc: Exception) -> JSONResponse:
    # The database away or saturated (its pool's wait ran out, db/pool.py): not the request's fault and
    # not a bug, so a 503 the client retries after Retry-After rather than a 500 or a hung connection. Any
    # other error of these families is not an outage (kafka/failures.py sorts them): it stays a 500.
    if classify(exc) is not Failure.INFRASTRUCTURE:
        raise exc
    runtime = getattr(request.app.state, "runtime", None)
    retry_after = runtime.settings.retry_after_seconds if runtime is not None else 2
    log.warning("http.unavailable", error=repr(exc), path=request.url.path, retry_after=retry_after)
    return problem(
        503,
        "unavailable",
        "the service cannot reach its database or every connection is busy; retry after Retry-After seconds",
        headers={"Retry-After": str(retry_after)},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Only reached for an error raised outside RequestContext (a middleware mounted around it).
    request_id = request_id_of(request.scope) or current_request_id()
    log.error("http.unexpected_error", request_id=request_id, error=repr(exc), path=request.url.path)
    return Response(internal_error_body(request_id), status_code=500, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    # The server's SQLSTATE class 22 (asyncpg.exceptions.DataError and its subclasses) and asyncpg's own
    # argument encoding errors (e.g. an int out of int64 range, asyncpg.exceptions._base.DataError).
    app.add_exception_handler(asyncpg.exceptions.DataError, _data_error)
    app.add_exception_handler(asyncpg_base.DataError, _data_error)
    # Outages: OSError covers the pool's TimeoutError and refused or reset connections.
    # InternalClientError: a connection PostgreSQL is terminating, used before asyncpg saw it close.
    for family in (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError):
        app.add_exception_handler(family, _outage)
    # Starlette hands an `Exception` handler to ServerErrorMiddleware: JSON instead of its text/plain.
    app.add_exception_handler(Exception, _unexpected)
