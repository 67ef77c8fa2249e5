"""三率 as Prometheus gauges: this month's rates per district and mode, from the day counters (the same
reading as the scores API, store.sum_days). Labels are bounded: rate (3), district (16), mode (2); never a
department (~900) or a ticket."""

import asyncio
from datetime import UTC, datetime

from prometheus_client import Gauge

from cityloop.common.db.pool import PgPool
from cityloop.common.runtime import ServiceRuntime
from cityloop.feedback.scores import store
from cityloop.feedback.scores.rules import Level, Mode, Period, city_day, period_days, rates

SCORE_RATE = Gauge(
    "cityloop_score_rate",
    "This month's 三率 per district (0..1); absent while the rate has no denominator",
    ["rate", "district", "mode"],
)
REFRESH_SECONDS = 30.0


async def refresh(pool: PgPool, now: datetime | None = None) -> None:
    first, last = period_days(Period.MONTH, city_day(now or datetime.now(UTC)))
    async with pool.acquire() as conn:
        summed = {m: await store.sum_days(conn, Level.DISTRICT, m.value, first, last) for m in Mode}
    # Replace every series at once: a new month starts with no rates until something is counted.
    SCORE_RATE.clear()
    for mode, rows in summed.items():
        for district, counts in rows:
            r = rates(counts)
            for name, ratio in (
                ("response", r.response),
                ("resolution", r.resolution),
                ("satisfaction", r.satisfaction),
            ):
                if ratio is not None:
                    SCORE_RATE.labels(name, district, mode.value).set(ratio)


async def keep_fresh(runtime: ServiceRuntime, every: float = REFRESH_SECONDS) -> None:
    """Runs in the background of the feedback process (runtime.background)."""
    while True:
        await refresh(runtime.pool)
        await asyncio.sleep(every)
