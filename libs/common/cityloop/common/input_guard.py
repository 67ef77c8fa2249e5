"""Hostile input stops at the edge with a 4xx JSON error, before any handler or the database sees it.

PostgreSQL refuses a NUL in text and integers beyond 64 bits; XML 1.0 forbids most control characters. So a
pure ASGI middleware (installed by service_app.py in every service, the gateway included) applies one policy:

- path: a control character, a ``.``/``..`` segment (raw, ``%2e``, double-encoded ``%252e``) -> 400
  ``bad_path``; a digits-only segment of 2^63 or more -> 422 naming ``path``.
- query parameters and form/JSON fields that are identifiers, codes or numbers: any control character
  (NUL included) -> 422 naming the field; an integer of 2^63 or more (or below -2^63) -> 422 naming it.
- free text (``FREE_TEXT`` field names, e.g. ``description``): control characters other than tab, line
  feed and carriage return (NUL included) are stripped, so a pasted text is kept but stored clean.
"""

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityloop.common.clean_text import strip_controls
from cityloop.common.http_errors import error_body
from cityloop.common.personal.redaction import TYPED_TEXT

#: Free-text field names (JSON keys at any depth, form fields): control characters are stripped, not refused.
FREE_TEXT = TYPED_TEXT
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_INTEGER = re.compile(r"^[+-]?\d+$")


class Refused(Exception):
    def __init__(self, status: int, error: str, message: str, field: str, problem: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field, self.problem = status, error, message, field, problem


def _invalid(field: str, problem: str) -> Refused:
    return Refused(422, "validation_failed", "the request has invalid fields", field, problem)


def check_path(path: str) -> None:
    if _CONTROL.search(path):
        raise Refused(400, "bad_path", "the path holds a control character", "path", "control character")
    decoded = path
    for _ in range(3):  # double- and triple-encoded dots too (%252e -> %2e -> .)
        if any(segment in {".", ".."} for segment in decoded.split("/")):
            raise Refused(400, "bad_path", "'.' and '..' are not allowed in a path", "path", "dot segment")
        decoded = unquote(decoded)
        if _CONTROL.search(decoded):
            raise Refused(400, "bad_path", "the path holds a control character", "path", "control character")
    for segment in path.split("/"):
        if _INTEGER.match(segment) and not INT64_MIN <= int(segment) <= INT64_MAX:
            raise _invalid("path", f"{segment[:30]} is out of range (a 64-bit integer)")


def _check_scalar(field: str, value: str) -> None:
    if _CONTROL.search(value):
        raise _invalid(field, "control characters are not allowed")
    if _INTEGER.match(value) and len(value) > 18 and not INT64_MIN <= int(value) <= INT64_MAX:
        raise _invalid(field, "out of range (a 64-bit integer)")


def check_query(query: str) -> None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _CONTROL.search(name):
            raise _invalid("query", "control characters are not allowed in a parameter name")
        _check_scalar(name, value)


def _clean_json(value: Any, field: str, free_text: bool) -> tuple[Any, bool]:
    """(the value with free text stripped, whether anything was stripped); raises Refused."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value, False
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _invalid(field or "body", "out of range (a 64-bit integer)")
        return value, False
    if isinstance(value, str):
        if free_text:
            cleaned = strip_controls(value)
            return cleaned, cleaned != value
        if _CONTROL.search(value):
            raise _invalid(field or "body", "control characters are not allowed")
        return value, False
    changed = False
    if isinstance(value, list):
        items = []
        for i, item in enumerate(value):
            cleaned, c = _clean_json(item, f"{field}.{i}" if field else str(i), free_text)
            items.append(cleaned)
            changed |= c
        return items, changed
    out = {}
    for key, item in value.items():
        name = f"{field}.{key}" if field else key
        if _CONTROL.search(key):
            raise _invalid(field or "body", "control characters are not allowed in a field name")
        out[key], c = _clean_json(item, name, free_text or key in FREE_TEXT)
        changed |= c
    return out, changed


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def clean_json_body(body: bytes) -> bytes | None:
    """The body to pass on (None: unchanged). Unparsable JSON is left to the handler's own 422."""
    try:
        document = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return None
    cleaned, changed = _clean_json(document, "", False)
    return orjson.dumps(cleaned) if changed else None


def clean_form_body(body: bytes) -> bytes | None:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return None
    changed = False
    out: list[tuple[str, str]] = []
    for name, value in pairs:
        if _CONTROL.search(name):
            raise _invalid("body", "control characters are not allowed in a field name")
        if name in FREE_TEXT:
            cleaned = strip_controls(value)
            changed |= cleaned != value
            out.append((name, cleaned))
        else:
            _check_scalar(name, value)
            out.append((name, value))
    return urlencode(out).encode() if changed else None


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            return str(value.decode("latin-1").split(";", 1)[0].strip().lower())
    return ""


class InputGuard:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            check_path(scope.get("path", ""))
            check_query(scope.get("query_string", b"").decode("latin-1"))
        except Refused as refused:
            await _refuse(send, refused)
            return
        media = _media_type(scope)
        is_json = media == "application/json" or media.endswith("+json")
        if not (is_json or media == "application/x-www-form-urlencoded"):
            await self._app(scope, receive, send)
            return
        body = b"".join([chunk async for chunk in _chunks(receive)])
        try:
            replaced = clean_json_body(body) if is_json else clean_form_body(body)
        except Refused as refused:
            await _refuse(send, refused)
            return
        if replaced is not None:
            body = replaced
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._app(scope, replay, send)


async def _chunks(receive: Receive) -> Any:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, refused: Refused) -> None:
    body = orjson.dumps(
        error_body(refused.error, refused.message, [{"field": refused.field, "problem": refused.problem}])
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


__all__ = ["FREE_TEXT", "InputGuard", "Refused"]
