"""``/metrics``, ``/healthz`` and ``/readyz``: the same three endpoints on every service."""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

# The *_created series double every counter's cardinality and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

ReadinessCheck = Callable[[], Awaitable[None]]


def ops_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz", operation_id="healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz", operation_id="readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # any failure means "not ready"; the body says which and why
                results[name] = f"failed: {exc!r}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return router
