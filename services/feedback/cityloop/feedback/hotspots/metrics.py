"""Hot spots as Prometheus gauges, refreshed from feedback's tables. Labels are bounded: period (3),
district (16) and category group (~20); never a ticket, a street or a grid."""

import asyncio
from datetime import UTC, datetime

from prometheus_client import Gauge

from cityloop.common.db.pool import PgPool
from cityloop.common.runtime import ServiceRuntime
from cityloop.feedback.hotspots import store
from cityloop.feedback.hotspots.api import span_of
from cityloop.feedback.signals.buckets import Period, window

HOTSPOT_TICKETS = Gauge(
    "cityloop_hotspot_tickets",
    "Tickets counted for hot spots in the period ending now (day: 24 h, week: 7 days, month: 30 days)",
    ["period", "district", "category_group"],
)
PERIODS: tuple[Period, ...] = ("day", "week", "month")
REFRESH_SECONDS = 15.0


async def refresh(pool: PgPool, now: datetime | None = None) -> None:
    at = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        totals = {p: await store.district_totals(conn, span=span_of(window(p, at))) for p in PERIODS}
    # Replace every series at once: a district whose tickets all aged out of a period drops to absent.
    HOTSPOT_TICKETS.clear()
    for period, rows in totals.items():
        for r in rows:
            HOTSPOT_TICKETS.labels(period, r["district"], r["category_group"]).set(r["count"])


async def keep_fresh(runtime: ServiceRuntime, every: float = REFRESH_SECONDS) -> None:
    """Runs in the background of the feedback process (runtime.background)."""
    while True:
        await refresh(runtime.pool)
        await asyncio.sleep(every)
