"""``/metrics``, ``/healthz`` and ``/readyz``: the same three endpoints on every service."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest

# The *_created series double every counter's cardinality and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

ReadinessCheck = Callable[[], Awaitable[None]]
#: How long /readyz waits for each check (a probe's own timeout is typically a few seconds).
CHECK_SECONDS = 2.0


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
                # A dependency that does not answer (a stopped broker, a saturated pool) must not hang
                # the probe: not answering in time is a failure like any other.
                async with asyncio.timeout(CHECK_SECONDS):
                    await check()
                results[name] = "ok"
            except TimeoutError:
                results[name] = f"failed: no answer within {CHECK_SECONDS:g} s"
            except Exception as exc:  # any failure means "not ready"; the body says which and why
                results[name] = f"failed: {exc!r}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    return router
