"""The API gateway's forwarding: parts of /api/v1 owned by other services are passed through.

Intake serves tickets itself; routing, deadlines and callbacks live with the services that own them,
reached over their internal HTTP ports. Services never import each other; they meet here and on Kafka.

The gateway authenticates every request, then hands the caller's identity to the owning service in the
signed ``X-CityLoop-Identity`` header (libs/common identity.py). The caller's own credentials stay here, and
an identity header sent by a client is dropped: only the gateway may speak for a caller.
"""

import httpx
from fastapi import APIRouter, Request, Response

from cityloop.common.identity import HEADER as IDENTITY_HEADER
from cityloop.common.identity import encode_identity
from cityloop.intake.accounts.authn import Authenticated
from cityloop.intake.settings import IntakeSettings

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
#: Never forwarded upstream: credentials end at the gateway, identity is the gateway's to assert.
_CALLER_ONLY = {"authorization", "x-api-key", "cookie", IDENTITY_HEADER.lower()}


def upstreams(settings: IntakeSettings) -> dict[str, str]:
    """First path segment after /api/v1 -> the service that owns it."""
    return {
        "routing": settings.router_url,
        "departments": settings.router_url,
        "categories": settings.router_url,
        "jurisdictions": settings.router_url,
        "corrections": settings.router_url,
        "emergencies": settings.router_url,
        "deadlines": settings.sla_url,
        "callbacks": settings.feedback_url,
        "scores": settings.feedback_url,
        "hotspots": settings.feedback_url,
    }


def gateway_router(settings: IntakeSettings, client: httpx.AsyncClient) -> APIRouter:
    table = upstreams(settings)
    router = APIRouter(prefix="/api/v1", include_in_schema=False)

    @router.api_route("/{segment}/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @router.api_route("/{segment}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(request: Request, identity: Authenticated, segment: str, rest: str = "") -> Response:
        base = table.get(segment)
        if base is None:
            return Response(
                b'{"error":"not_found","message":"no such API"}', status_code=404, media_type="application/json"
            )
        url = f"{base}/api/v1/{segment}" + (f"/{rest}" if rest else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP | _CALLER_ONLY}
        headers[IDENTITY_HEADER] = encode_identity(identity, settings.internal_secret)
        try:
            upstream = await client.request(
                request.method, url, params=request.query_params, content=await request.body(), headers=headers
            )
        except httpx.HTTPError as exc:
            return Response(
                f'{{"error":"upstream_unavailable","message":"{segment} service unreachable: {type(exc).__name__}"}}',
                status_code=503,
                media_type="application/json",
            )
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    return router
