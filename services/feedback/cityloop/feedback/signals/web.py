"""The worker's ops pages on faust's web server: /metrics (Prometheus), /healthz, /readyz."""

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cityloop.feedback.signals.app import app, recovered


async def metrics(web: Any, _request: Any) -> Any:
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


async def healthz(web: Any, _request: Any) -> Any:
    return web.json({"status": "ok"})


async def readyz(web: Any, _request: Any) -> Any:
    """Ready once the tables are recovered from their changelogs (counting before would start from zero)."""
    if recovered():
        return web.json({"status": "ready"})
    return web.json({"status": "recovering"}, status=503)


app.page("/metrics")(metrics)
app.page("/healthz")(healthz)
app.page("/readyz")(readyz)
