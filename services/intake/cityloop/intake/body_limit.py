"""Refuse request bodies over a size limit (413) before any handler reads them.

A pure ASGI middleware: Content-Length is checked up front; otherwise the body is read up to the limit
and replayed to the app. Bodies here are small (attachments are URLs), so buffering the allowed amount
is cheap, and it avoids failing halfway through a handler that has already started reading.
"""

from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Builds (body, media type) of the error for a request path (Open311 has its own error format).
ErrorBody = Callable[[str, int], tuple[bytes, str]]


def default_error_body(_path: str, limit: int) -> tuple[bytes, str]:
    body = {"error": "payload_too_large", "message": f"request body is larger than {limit} bytes"}
    return orjson.dumps(body), "application/json"


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, error_body: ErrorBody = default_error_body) -> None:
        self._app = app
        self._max = max_bytes
        self._error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every method: a GET or DELETE may carry a body too, and the gateway would read and forward it.
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body, media_type = self._error_body(scope.get("path", ""), self._max)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
