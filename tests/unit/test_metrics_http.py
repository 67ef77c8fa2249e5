"""HTTP metrics label requests by route template (never the raw path) and count 5xx from exceptions."""

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from cityloop.common.metrics.http import HttpMetrics
from cityloop.common.metrics.labels import Bounded, topic_family


def _count(route: str, method: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "cityloop_http_requests_total",
        {"service": "unit", "route": route, "method": method, "status": status},
    )
    return value or 0.0


async def test_requests_are_counted_by_route_template_and_status() -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "boom":
            raise RuntimeError("boom")
        return {"id": thing_id}

    app.add_middleware(HttpMetrics, service="unit")
    before_ok = _count("/things/{thing_id}", "GET", "200")
    before_err = _count("/things/{thing_id}", "GET", "500")
    before_404 = _count("unmatched", "GET", "404")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://unit") as client:
        assert (await client.get("/things/T-1")).status_code == 200
        assert (await client.get("/things/T-2")).status_code == 200
        assert (await client.get("/things/boom")).status_code == 500
        assert (await client.get("/nowhere/T-3")).status_code == 404
    assert _count("/things/{thing_id}", "GET", "200") == before_ok + 2
    assert _count("/things/{thing_id}", "GET", "500") == before_err + 1
    assert _count("unmatched", "GET", "404") == before_404 + 1
    # No raw path (with a ticket id in it) ever became a label value.
    routes = {
        s.labels["route"]
        for m in REGISTRY.collect()
        if m.name == "cityloop_http_requests"
        for s in m.samples
        if s.labels.get("service") == "unit"
    }
    assert routes == {"/things/{thing_id}", "unmatched"}
    count = REGISTRY.get_sample_value(
        "cityloop_http_request_duration_seconds_count",
        {"service": "unit", "route": "/things/{thing_id}", "method": "GET"},
    )
    assert count is not None
    assert count >= 3


def test_labels_stay_bounded() -> None:
    assert topic_family("test-1.dept.d0042.tasks", "test-1.") == "dept.*.tasks"
    assert topic_family("test-1.ticket.lifecycle", "test-1.") == "ticket.lifecycle"
    label = Bounded(2)
    assert [label(v) for v in ("a", "b", "c", "a", None)] == ["a", "b", "other", "a", "unknown"]
