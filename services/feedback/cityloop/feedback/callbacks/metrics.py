"""Due callbacks as a Prometheus gauge per district, overdue or not. Labels are bounded: district (16)
and overdue (2); never a ticket or a department."""

import asyncio
from datetime import UTC, datetime

from prometheus_client import Gauge

from cityloop.common.db.pool import PgPool
from cityloop.common.runtime import ServiceRuntime
from cityloop.feedback.callbacks import store

CALLBACKS_DUE = Gauge(
    "cityloop_callbacks_due", "Callbacks (回访) waiting to be made, by district and overdue", ["district", "overdue"]
)
REFRESH_SECONDS = 30.0
#: A district once seen stays a series at 0 when its callbacks are all made, so "none due" is visible.
_seen: set[tuple[str, str]] = set()


async def refresh(pool: PgPool, now: datetime | None = None) -> None:
    async with pool.acquire() as conn:
        rows = await store.due_counts(conn, now=now or datetime.now(UTC))
    counts = {(r["district"] or "unknown", "true" if r["overdue"] else "false"): r["count"] for r in rows}
    for district, _ in list(counts):
        _seen.update({(district, "true"), (district, "false")})
    for labels in _seen:
        CALLBACKS_DUE.labels(*labels).set(counts.get(labels, 0))


async def keep_fresh(runtime: ServiceRuntime, every: float = REFRESH_SECONDS) -> None:
    """Runs in the background of the feedback process (runtime.background)."""
    while True:
        await refresh(runtime.pool)
        await asyncio.sleep(every)
