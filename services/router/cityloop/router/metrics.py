"""router's Prometheus metrics (README "Metrics"): routing outcomes, classifier confidence, 退单 and
arbitrations, and open tickets by status, mode and district (recounted periodically, not per event)."""

import asyncio

from prometheus_client import Counter, Gauge, Histogram

from cityloop.common.db.pool import PgPool
from cityloop.common.metrics.labels import Bounded

DECISIONS = Counter(
    "cityloop_routing_decisions_total",
    "Routing decisions by outcome (auto, queue, handover, merge) and, for queue, the reason",
    ["outcome", "reason"],
)
CONFIDENCE = Histogram(
    "cityloop_classifier_confidence",
    "Confidence of the classifier's first choice for each new ticket (0..1)",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
REJECTIONS = Counter("cityloop_rejections_total", "Lead departments' rejections (退单), by what followed", ["outcome"])
ARBITRATIONS = Counter("cityloop_arbitrations_total", "Final arbitrations decided by a dispatcher")
TICKETS = Gauge(
    "cityloop_tickets",
    "Tickets router knows, by status, mode (peacetime, emergency) and district (recounted periodically)",
    ["status", "mode", "district"],
)
#: apply_decision's results -> the outcome label.
OUTCOMES = {"dispatched": "auto", "needs_dispatcher": "queue", "handed_over": "handover", "merged": "merge"}
_district = Bounded(64)


def decided(result: str, queue_reason: str | None) -> None:
    outcome = OUTCOMES.get(result, result)
    DECISIONS.labels(outcome, (queue_reason or "none") if outcome == "queue" else "none").inc()


async def count_tickets(pool: PgPool, every_seconds: float = 30.0) -> None:
    """Background worker: one GROUP BY over router's tickets; a label set that emptied drops to 0."""
    seen: set[tuple[str, str, str]] = set()
    while True:
        rows = await pool.fetch(
            "SELECT status, CASE WHEN decision->'why'->>'mode' = 'emergency' OR decision->>'mode' = 'emergency'"
            " THEN 'emergency' ELSE 'peacetime' END AS mode,"
            " coalesce(resolved->>'district', 'unknown') AS district, count(*) AS n FROM tickets GROUP BY 1, 2, 3"
        )
        now = {(r["status"], r["mode"], _district(r["district"])): 0 for r in rows}
        for r in rows:
            now[(r["status"], r["mode"], _district(r["district"]))] += int(r["n"])
        for labels in seen - set(now):
            TICKETS.labels(*labels).set(0)
        for labels, n in now.items():
            TICKETS.labels(*labels).set(n)
        seen |= set(now)
        await asyncio.sleep(every_seconds)
