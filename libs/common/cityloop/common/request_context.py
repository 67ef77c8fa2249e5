"""Every HTTP request gets one id, and nothing it raises ever reaches the client as plain text.

``RequestContext`` is a pure ASGI middleware, the outermost of a service's own (service_app.py puts it
there). It takes the caller's ``X-Request-ID`` when it is a sane token, else makes one; binds it to the
structlog context so every log line of the request carries it; echoes it on the response; and turns an
exception that escapes everything below into the JSON error body with that id, logged with the traceback.
Starlette's own last resort (ServerErrorMiddleware) answers ``text/plain``; it never gets the chance here,
and http_errors.py gives it a JSON handler for errors raised outside this middleware.

The gateway forwards the id to the service behind it (intake gateway.py), so one request has one id in
every service's logs.
"""

import re
import uuid
from contextvars import ContextVar

import orjson
import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_current: ContextVar[str | None] = ContextVar("cityloop_request_id", default=None)

log = structlog.get_logger(__name__)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _current.get()


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return str(value) if value else None


def internal_error_body(request_id: str | None) -> bytes:
    return orjson.dumps(
        {
            "error": "internal_error",
            "message": "an unexpected error; the operators can find it by its request id",
            "request_id": request_id,
        }
    )


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(HEADER)
        request_id = incoming if incoming and _SANE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "http.unexpected_error", request_id=request_id, method=scope.get("method"), path=scope.get("path")
            )
            if not started:
                body = internal_error_body(request_id)
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body})
            # Started already: the client has a status line and part of a body; the log holds the rest.
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            _current.reset(token)
