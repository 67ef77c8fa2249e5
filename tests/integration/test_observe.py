"""What an SRE sees: the documented metrics after a run through the loop, and every dashboard panel's
expression evaluated by `make observe`'s Prometheus (scripts/infra/prometheus.sh) scraping the services."""

import asyncio
import contextlib
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.serving import served
from tests.integration.test_skeleton_loop import fresh_ticket, wait_for_timeline
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
TICKETS = 4
#: Ticket ids look like this (intake's tickets/numbers.py); none may ever be a label value.
TICKET_ID = re.compile(r"T\d{8}-\d{7}")


def documented_metrics() -> list[str]:
    """The metric names in README's "Metrics and observing" table (first column)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Metrics and observing", 1)[1].split("\n## ", 1)[0]
    names = [
        m
        for line in section.splitlines()
        if line.startswith("| `cityloop_")
        for m in re.findall(r"`(cityloop_[a-z0-9_]+)`", line.split("|")[1])
    ]
    assert len(names) >= 20, names
    return names


def family(name: str) -> str:
    # prometheus_client's parser names a counter's family without _total.
    return name.removesuffix("_total")


async def scrape(loop: Loop, service: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=loop.apps[service])
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def value(families: dict[str, Any], sample: str, **labels: str) -> float:
    """Sum of the samples named ``sample`` (a counter's end in _total) whose labels include ``labels``."""
    return float(
        sum(
            s.value
            for f in families.values()
            for s in f.samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )
    )


async def create_tickets(loop: Loop, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        created = await loop.intake.post("/api/v1/tickets", json=fresh_ticket())
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    for ticket_id in ids:
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.sla.deadlines_set")
    return ids


async def accept_and_resolve(loop: Loop, ticket_id: str) -> None:
    """The department accepts in time and resolves: a 响应率 to show and a callback due (the 三率 and
    callbacks panels)."""
    async with DeptSystem(KAFKA, TOPIC_PREFIX, "pd-sanitation") as dept:
        task = await dept.next_task(ticket_id)
        await dept.answer(task, "cityloop.dept.accepted", note="已签收")
        await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.accepted")
        await dept.answer(task, "cityloop.dept.resolved", note="已处理")
    await wait_for_timeline(loop.intake, ticket_id, "cityloop.callback.opened")


async def test_documented_metrics_exist_count_once_and_carry_no_unbounded_labels(loop: Loop) -> None:
    before = await scrape(loop, "intake")
    ids = await create_tickets(loop, TICKETS)
    # The ticket gauge is recounted every 30 s (router metrics.count_tickets): wait for the recount.
    async with asyncio.timeout(90):
        while True:
            after = {svc: await scrape(loop, svc) for svc in ("intake", "router", "sla", "feedback")}
            if value(after["router"], "cityloop_tickets") >= value(before, "cityloop_tickets") + TICKETS:
                break
            await asyncio.sleep(1)

    for svc, families in after.items():
        missing = [m for m in documented_metrics() if family(m) not in families]
        assert missing == [], f"{svc} /metrics lacks {missing}"

    fam = after["intake"]
    # A ticket is counted once: created, routed, announced.
    delta = value(fam, "cityloop_tickets_created_total", channel="hotline") - value(
        before, "cityloop_tickets_created_total", channel="hotline"
    )
    assert delta == TICKETS
    routed = value(fam, "cityloop_routing_decisions_total") - value(before, "cityloop_routing_decisions_total")
    assert routed == TICKETS
    confidence = value(fam, "cityloop_classifier_confidence_count") - value(
        before, "cityloop_classifier_confidence_count"
    )
    assert confidence == TICKETS
    assert (
        value(
            fam, "cityloop_http_requests_total", service="intake", route="/api/v1/tickets", method="POST", status="201"
        )
        >= TICKETS
    )
    produced = value(
        fam,
        "cityloop_events_produced_total",
        service="intake",
        topic="ticket.lifecycle",
        type="cityloop.ticket.created",
    )
    assert produced >= TICKETS
    applied = value(
        fam,
        "cityloop_events_consumed_by_type_total",
        consumer="router.intake",
        type="cityloop.ticket.created",
        outcome="applied",
    )
    assert applied >= TICKETS
    assert value(fam, "cityloop_sla_live_timers") >= 0
    for name in ("cityloop_outbox_pending", "cityloop_outbox_oldest_age_seconds", "cityloop_consumer_lag"):
        assert all(s.value >= 0 for s in fam[family(name)].samples), name
    assert value(fam, "cityloop_calendar_covered_until_timestamp_seconds") > 1.7e9

    # Bounded labels only: no ticket id, no raw path, topic families instead of ~900 department topics.
    for f in fam.values():
        for s in f.samples:
            for key, label in s.labels.items():
                assert not any(t in label for t in ids), (s.name, key, label)
                assert not TICKET_ID.search(label), (s.name, key, label)
                if key == "route":
                    assert label == "unmatched" or label.startswith("/"), label
                if key == "topic":
                    assert not re.match(r"^dept\.[^*]+\.tasks$", label), label
                    assert not label.startswith("test-"), label  # no deployment prefix


@contextlib.asynccontextmanager
async def serving(apps: dict[str, FastAPI]) -> AsyncIterator[list[str]]:
    """The loop's apps (already started) on real ports, in the order make observe labels them."""
    async with contextlib.AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(served(apps[name])) for name in ("intake", "router", "sla", "feedback")]
        yield [url.removeprefix("http://") for url in urls]


def dashboard_expressions() -> list[tuple[str, str]]:
    out = []
    for path in sorted((REPO / "deploy/grafana").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel["targets"]:
                out.append((f"{board['uid']} / {panel['title']}", target["expr"]))
    assert len(out) >= 30
    return out


async def test_every_dashboard_expression_returns_data_from_make_observes_prometheus(
    loop: Loop, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CITYLOOP_HOME": str(tmp_path),
        "PROMETHEUS_PORT": str(port),
        "PROMETHEUS_SCRAPE_INTERVAL": "1s",
    }
    async with serving(loop.apps) as targets:
        env["CITYLOOP_OBSERVE_TARGETS"] = " ".join(targets)
        script = str(REPO / "scripts/infra/prometheus.sh")
        started = await asyncio.to_thread(subprocess.run, [script, "start"], env=env, capture_output=True, text=True)
        assert started.returncode == 0, started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout
        try:
            ids = await create_tickets(loop, 3)
            await accept_and_resolve(loop, ids[0])
            expressions = dashboard_expressions()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as prometheus:
                # Rule files are the production ones.
                rules = (await prometheus.get("/api/v1/rules")).json()["data"]["groups"]
                assert {r["name"] for g in rules for r in g["rules"]} >= {"CityLoopServiceDown", "CityLoopHttp5xxRatio"}
                empty: list[str] = []
                for _ in range(120):  # until a few scrapes have seen the load
                    empty = []
                    for where, expr in expressions:
                        answer = (await prometheus.get("/api/v1/query", params={"query": expr})).json()
                        assert answer["status"] == "success", f"{where}: {expr}: {answer}"
                        if not answer["data"]["result"]:
                            empty.append(f"{where}: {expr}")
                    if not empty:
                        break
                    await asyncio.sleep(1)
                assert empty == [], "panels without data"
                up = (await prometheus.get("/api/v1/query", params={"query": "up"})).json()["data"]["result"]
                assert sorted(r["metric"]["job"] for r in up if r["value"][1] == "1") == [
                    "feedback",
                    "intake",
                    "router",
                    "sla",
                ]
        finally:
            await asyncio.to_thread(subprocess.run, [script, "stop"], env=env, capture_output=True)


@pytest.fixture(autouse=True)
def _prometheus_installed() -> None:
    # The project's set-up installs it (scripts/infra/prometheus.sh install; validate.sh runs it too).
    subprocess.run([str(REPO / "scripts/infra/prometheus.sh"), "install"], check=True, capture_output=True)
