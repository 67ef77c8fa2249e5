"""Hot spots over a generated month: dispatched tickets spread over 40 days go through feedback's stream
worker (its own process) and come out of GET /api/v1/hotspots and /metrics.

The month is written straight onto ticket.lifecycle, as router would announce it, under a topic prefix
and a database of its own: tickets dated weeks ago cannot come through intake, and no other service should
open deadlines for them."""

import asyncio
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cityloop.common.calendar import CITY_TZ
from cityloop.common.contract import types
from cityloop.common.db.pool import PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.feedback.app import create_app
from cityloop.feedback.hotspots import metrics as hotspot_metrics
from cityloop.feedback.settings import FeedbackSettings
from tests import stand_ins
from tests.conftest import TEST_DB, TOPIC_PREFIX
from tests.databases import scratch_database
from tests.integration.signals_support import worker

PREFIX = f"{TOPIC_PREFIX}month."
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(CITY_TZ).date()
# The API is asked "as of" noon two days ago, so the hand-checked street also has tickets after it.
AS_OF = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=CITY_TZ) - timedelta(days=2)


def at_local(days_before_as_of: int, hour: int) -> datetime:
    day = AS_OF.date() - timedelta(days=days_before_as_of)
    return datetime(day.year, day.month, day.day, hour, tzinfo=CITY_TZ)


def dispatched(n: int, at: datetime, category: str, place: tuple[str, str, str], **more: object) -> CloudEvent:
    district, street, grid = place
    chain = {"district": district, "street": street, "community": grid.rsplit("-", 1)[0], "grid": grid}
    return stand_ins.lifecycle(
        "/cityloop/router",
        types.TICKET_DISPATCHED,
        f"M{n:05d}",
        None,
        {
            "dept_code": f"{district}-sanitation",
            "assignment_id": f"A{n:05d}",
            "role": "lead",
            "urgency": "normal",
            "category": category,
            "location": {"chain": chain, "level": "grid", "how": "address"},
            **more,
        },
        time=at,
    )


def generated_month() -> list[CloudEvent]:
    events: list[CloudEvent] = []

    def add(at: datetime, category: str, district: str, street: str, grid: str) -> None:
        events.append(dispatched(len(events), at, category, (district, street, grid)))

    # The hand-checked hot spot: rubbish in one grid of street xh-s02, three a day in the week up to
    # AS_OF, one a day in the week before, five more the day after AS_OF.
    grid = "xh-s02-c01-g01"
    for d in range(7):
        for h in (8, 9, 10):
            add(at_local(d, h), "sanitation.garbage", "xh", "xh-s02", grid)
        add(at_local(d + 7, 9), "sanitation.garbage", "xh", "xh-s02", grid)
    for h in range(5):
        add(at_local(-1, 8 + h), "sanitation.garbage", "xh", "xh-s02", grid)
    # Background over 40 days: other streets and categories (none of the sanitation group in xh).
    rng = random.Random(20261201)
    places = [("xh", "xh-s01"), ("xh", "xh-s03"), ("jd", "jd-s01"), ("jd", "jd-s02")]
    categories = ["water.pipe-burst", "transport.pothole", "gas.safety-check"]
    for _ in range(120):
        district, street = rng.choice(places)
        category = rng.choice([*categories, "sanitation.garbage"] if district == "jd" else categories)
        at = NOW - timedelta(days=40) + timedelta(seconds=rng.randrange(40 * 86400 - 3600))
        add(at, category, district, street, f"{street}-c0{rng.randrange(1, 4)}-g0{rng.randrange(1, 5)}")
    # Not counted: a re-dispatch of an old ticket, and an event of another type.
    events.append(dispatched(9001, at_local(0, 11), "sanitation.garbage", ("xh", "xh-s02", grid), replaces=["A-old"]))
    created = {"channel": "hotline", "description": "咨询", "location": {}, "created_at": NOW}
    events.append(stand_ins.lifecycle("/t", types.TICKET_CREATED, "M9002", None, created))
    return events


def in_last_days(at: datetime, days: int, end: datetime) -> bool:
    first = end.astimezone(CITY_TZ).date() - timedelta(days=days - 1)
    return first <= at.astimezone(CITY_TZ).date() <= end.astimezone(CITY_TZ).date()


async def test_a_generated_month_of_hot_spots_is_served_by_the_api_and_as_metrics(kafka: str, tmp_path: Path) -> None:
    events = generated_month()
    counted = [e for e in events if e.type == types.TICKET_DISPATCHED and not e.data["detail"].get("replaces")]
    async with scratch_database(f"{TEST_DB}_hotspots") as dsn:
        app = create_app(FeedbackSettings(database_url=dsn, topic_prefix=PREFIX))
        async with app.router.lifespan_context(app), worker(tmp_path / "signals.log", CITYLOOP_TOPIC_PREFIX=PREFIX):
            await app.state.runtime.wait_consumers_ready()
            producer = EventProducer(kafka, PREFIX, client_id="test.month")
            await producer.start()
            try:
                for event in events:
                    await producer.publish(TICKET_LIFECYCLE.name, event)
            finally:
                await producer.stop()
            identity = encode_identity(Identity(subject="aud", role=Role.AUDITOR), FeedbackSettings().internal_secret)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://feedback", headers={HEADER: identity}
            ) as client:
                # Every counted ticket of the last 30 days has reached feedback.
                want_month = sum(in_last_days(e.time, 30, NOW) for e in counted)
                # Snapshots of different keys travel on different partitions: wait for both levels read below.
                for level in ("district", "street"):
                    await until_total(client, {"period": "month", "level": level, "limit": "100"}, want_month)

                await check_week_by_street(client, counted)
                # Grid keys are too many to total within one page: wait for the hand-checked grid itself.
                grid = await until_top(client, {"period": "week", "level": "grid", "at": AS_OF.isoformat()}, 21)
                assert grid["area"] == "xh-s02-c01-g01"
                day_body = await hotspots(client, period="day", level="district", at=AS_OF.isoformat())
                assert len(day_body["items"][0]["trend"]) == 24
                # 08:00, 09:00, 10:00 on AS_OF's day, inside the 24 hours up to noon.
                xh = next(i for i in day_body["items"] if (i["area"], i["category"]) == ("xh", "sanitation.garbage"))
                assert xh["count"] == 3

                refused = await client.get("/api/v1/hotspots", params={"period": "year", "level": "street"})
                assert refused.status_code == 422
                assert "period" in refused.text

                # Metrics: per district and category group, the month up to now: 21 + 7 + 5 in xh.
                want_week = sum(
                    1
                    for e in counted
                    if e.data["detail"]["location"]["chain"]["district"] == "xh"
                    and e.data["detail"]["category"].startswith("sanitation.")
                    and in_last_days(e.time, 7, NOW)
                )
                text = await metrics_text(client, app.state.runtime.pool, ("month", "xh", "sanitation"))
                assert metric(text, "month", "xh", "sanitation") == 33
                assert metric(text, "week", "xh", "sanitation") == want_week
                assert not re.search(r"cityloop_hotspot_tickets\{[^}]*(street|grid|ticket)", text)


async def check_week_by_street(client: httpx.AsyncClient, counted: list[CloudEvent]) -> None:
    body = await hotspots(client, period="week", level="street", at=AS_OF.isoformat())
    assert body["period"] == "week"
    assert body["level"] == "street"
    assert body["window"]["bucket"] == "day"
    assert datetime.fromisoformat(body["window"]["start"]) == at_local(6, 0)
    assert datetime.fromisoformat(body["window"]["previous_start"]) == at_local(13, 0)
    top = body["items"][0]
    # Hand-checked: 3 a day for 7 days; 1 a day the week before; the 5 after AS_OF not counted.
    assert {k: top[k] for k in ("rank", "area", "district", "category", "category_group")} == {
        "rank": 1,
        "area": "xh-s02",
        "district": "xh",
        "category": "sanitation.garbage",
        "category_group": "sanitation",
    }
    assert (top["count"], top["previous"], top["change"], top["change_ratio"]) == (21, 7, 14, 2.0)
    assert top["trend"] == [3] * 7
    assert body["rising"][0]["area"] == "xh-s02"
    assert body["rising"][0]["change"] == 14
    assert [i["rank"] for i in body["items"]] == list(range(1, len(body["items"]) + 1))
    assert [i["count"] for i in body["items"]] == sorted((i["count"] for i in body["items"]), reverse=True)
    assert all(i["change"] > 0 for i in body["rising"])
    changes = [i["change"] for i in body["rising"]]
    assert changes == sorted(changes, reverse=True)
    for item in body["items"]:  # every count agrees with the generated tickets
        assert item["count"] == sum(
            1
            for e in counted
            if e.data["detail"]["location"]["chain"]["street"] == item["area"]
            and e.data["detail"]["category"] == item["category"]
            and in_last_days(e.time, 7, AS_OF)  # whole local days: AS_OF's afternoon too
        )
        assert len(item["trend"]) == 7
        assert sum(item["trend"]) == item["count"]


async def hotspots(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/hotspots", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until_top(client: httpx.AsyncClient, params: dict[str, str], count: int) -> dict[str, Any]:
    top: dict[str, Any] | None = None
    try:
        async with asyncio.timeout(300):
            while True:
                items: list[dict[str, Any]] = (await hotspots(client, **params))["items"]
                top = items[0] if items else None
                if top is not None and top["count"] == count:
                    return top
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"top hot spot {top}, expected {count} tickets") from None


async def until_total(client: httpx.AsyncClient, params: dict[str, str], want: int) -> None:
    total = None
    try:
        async with asyncio.timeout(300):  # a loaded broker is slow to show new topics' metadata
            while True:
                body = await hotspots(client, **params)
                total = sum(i["count"] for i in body["items"])
                if total == want:
                    return
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"{total} tickets served, expected {want}") from None


async def metrics_text(client: httpx.AsyncClient, pool: PgPool, series: tuple[str, str, str]) -> str:
    """/metrics after a refresh from this test's database. In a session that also runs the loop, the loop's
    feedback refreshes the same process-wide gauge from its own database every 15 s: read until ours shows."""
    async with asyncio.timeout(60):
        while True:
            await hotspot_metrics.refresh(pool)
            text = (await client.get("/metrics")).text
            if find_metric(text, *series) is not None:
                return text
            await asyncio.sleep(0.5)


def find_metric(text: str, period: str, district: str, group: str) -> float | None:
    pattern = (
        rf'cityloop_hotspot_tickets\{{(?=[^}}]*period="{period}")(?=[^}}]*district="{district}")'
        rf'(?=[^}}]*category_group="{group}")[^}}]*\}} ([0-9.e+]+)'
    )
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def metric(text: str, period: str, district: str, group: str) -> float:
    value = find_metric(text, period, district, group)
    assert value is not None, f"no cityloop_hotspot_tickets for {period} {district} {group}"
    return value
