"""The API gateway's forwarding: parts of /api/v1 owned by other services are passed through.

Intake serves tickets itself; routing, deadlines and callbacks live with the services that own them,
reached over their internal HTTP ports. Services never import each other; they meet here and on Kafka.

The gateway authenticates every request, then hands the caller's identity to the owning service in the
signed ``X-CityLoop-Identity`` header (libs/common identity.py). The caller's own credentials stay here, and
an identity header sent by a client is dropped: only the gateway may speak for a caller.

One exception, on purpose and narrow: the citizen's one-time callback link (feedback's
callbacks/links.py) works without an account, the token in the address being its credential. Exactly
its two paths are forwarded without sign-in (``public_router``), with no identity, rate-limited per client.
"""

import re

from fastapi import APIRouter, Request, Response

from cityloop.common.http_errors import problem
from cityloop.common.identity import HEADER as IDENTITY_HEADER
from cityloop.common.identity import encode_identity
from cityloop.common.request_context import HEADER as REQUEST_ID_HEADER
from cityloop.common.request_context import request_id_of
from cityloop.intake.accounts.authn import Authenticated
from cityloop.intake.rate_limits import RateLimit, client_address
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.upstream import Upstream, UpstreamUnavailable

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
#: Never forwarded upstream: credentials end at the gateway, identity is the gateway's to assert.
_CALLER_ONLY = {"authorization", "x-api-key", "cookie", IDENTITY_HEADER.lower()}


#: First path segment after /api/v1 -> the service that owns it. The gateway's OpenAPI document shows these
#: services' routes under these segments (openapi.py).
OWNERS: dict[str, str] = {
    "routing": "router",
    "departments": "router",
    "categories": "router",
    "jurisdictions": "router",
    "corrections": "router",
    "emergencies": "router",
    "deadlines": "sla",
    "supervision": "sla",
    "callbacks": "feedback",
    "scores": "feedback",
    "hotspots": "feedback",
}


#: Segments forwarded WITHOUT sign-in (``public_router``): the citizen's one-time callback link.
PUBLIC_OWNERS: dict[str, str] = {"callback-links": "feedback"}


def upstreams(settings: IntakeSettings) -> dict[str, str]:
    """First path segment after /api/v1 -> the base URL of the service that owns it."""
    urls = {"router": settings.router_url, "sla": settings.sla_url, "feedback": settings.feedback_url}
    return {segment: urls[service] for segment, service in OWNERS.items()}


async def _relay(client: Upstream, request: Request, url: str, headers: dict[str, str], service: str) -> Response:
    """Pass the request on to ``url`` and its answer back; a service that cannot be reached is a 503."""
    # One request, one id: the service logs and answers under the id the gateway logs (request_context.py).
    request_id = request_id_of(request.scope) or headers.pop(REQUEST_ID_HEADER.lower(), None)
    if request_id:
        headers[REQUEST_ID_HEADER.lower()] = request_id
    try:
        upstream = await client.request(
            request.method, url, query=request.url.query, body=await request.body(), headers=headers
        )
    except UpstreamUnavailable as exc:
        return problem(503, "upstream_unavailable", f"{service} service unreachable: {exc}")
    out_headers = {k: v for k, v in upstream.headers if k.lower() not in _HOP_BY_HOP}
    return Response(upstream.body, status_code=upstream.status, headers=out_headers)


def _passed_on(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP | _CALLER_ONLY}


def gateway_router(settings: IntakeSettings, client: Upstream) -> APIRouter:
    table = upstreams(settings)
    router = APIRouter(prefix="/api/v1", include_in_schema=False)

    @router.api_route("/{segment}/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @router.api_route("/{segment}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(request: Request, identity: Authenticated, segment: str, rest: str = "") -> Response:
        base = table.get(segment)
        if base is None:
            return problem(404, "not_found", f"no API at /api/v1/{segment}")
        url = f"{base}/api/v1/{segment}" + (f"/{rest}" if rest else "")
        headers = _passed_on(request)
        headers[IDENTITY_HEADER] = encode_identity(identity, settings.internal_secret)
        return await _relay(client, request, url, headers, OWNERS[segment])

    return router


#: A link token as feedback makes them (secrets.token_urlsafe): nothing else passes the public door.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


def public_router(settings: IntakeSettings, client: Upstream) -> APIRouter:
    """The citizen's callback link, without an account: the page and its JSON API, nothing else."""
    router = APIRouter(include_in_schema=False)
    limit = RateLimit("callback_link", settings.callback_link_rate_limit)

    async def relay(request: Request, path: str, token: str) -> Response:
        if not _TOKEN.fullmatch(token):
            return problem(404, "link_invalid", "this link is not valid")
        if not await limit.allow(client_address(request)):
            message = f"too many requests; limit {limit.spec}"
            return problem(429, "rate_limited", message, headers={"Retry-After": str(limit.retry_after_seconds)})
        return await _relay(client, request, f"{settings.feedback_url}{path}", _passed_on(request), "feedback")

    @router.api_route("/callback/{token}", methods=["GET", "POST"])
    async def callback_page(request: Request, token: str) -> Response:
        return await relay(request, f"/callback/{token}", token)

    @router.api_route("/api/v1/callback-links/{token}", methods=["GET", "POST"])
    async def callback_api(request: Request, token: str) -> Response:
        return await relay(request, f"/api/v1/callback-links/{token}", token)

    return router
