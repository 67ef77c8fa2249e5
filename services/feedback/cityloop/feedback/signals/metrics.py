"""The worker's own metrics (its /metrics, web.py). Labels are bounded: outcome, category group."""

from prometheus_client import Counter

SIGHTINGS = Counter(
    "cityloop_signals_events_total",
    "ticket.lifecycle events read by the stream worker, by outcome (counted, skipped, unreadable)",
    ["outcome"],
)
PROPOSALS = Counter(
    "cityloop_surge_proposals_total", "Emergency proposals published by the surge detector", ["category_group"]
)
HOTSPOT_PUBLISHED = Counter(
    "cityloop_hotspot_snapshots_total", "Hot-spot count snapshots published to feedback.hotspots"
)
