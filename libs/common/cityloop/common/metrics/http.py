"""HTTP RED metrics for every service: requests by route template, method and status, and latency.

A pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streaming responses). The route label is
the matched route's template (``/api/v1/tickets/{ticket_id}``), never the raw path, so ticket ids never
become label values; a path no route matches is ``unmatched``.
"""

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "cityloop_http_requests_total",
    "HTTP requests served, by route template, method and status code",
    ["service", "route", "method", "status"],
)
DURATION = Histogram(
    "cityloop_http_request_duration_seconds",
    "Time from request to the end of the response body, by route template and method",
    ["service", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Scraping itself is not traffic.
_SKIPPED = frozenset({"/metrics"})


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not path:
        return "unmatched"
    # A mounted sub-application (intake mounts Open311) adds its own root.
    return f"{scope.get('root_path', '')}{path}" if scope.get("root_path") and path.startswith("/") else str(path)


class HttpMetrics:
    """``app.add_middleware(HttpMetrics, service="intake")``; ServiceRuntime.attach installs it once."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _SKIPPED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response starts is what the client sees as a 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope.get("method", "OTHER")
            method = method if method in _METHODS else "OTHER"
            route = route_template(scope)
            REQUESTS.labels(self.service, route, method, str(status)).inc()
            DURATION.labels(self.service, route, method).observe(time.perf_counter() - started)
