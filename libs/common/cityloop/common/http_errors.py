"""One JSON error shape for every HTTP error, naming each bad field and the problem (contract.md)."""

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def problem(status: int, error: str, message: str, fields: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse(body, status_code=status)


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


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    if isinstance(exc.detail, dict):
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    return problem(exc.status_code, "http_error", str(exc.detail))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
