"""intake's Prometheus metrics (README "Metrics"). HTTP metrics come from libs/common (metrics/http.py)."""

from prometheus_client import Counter

TICKETS_CREATED = Counter(
    "cityloop_tickets_created_total",
    "Tickets created, by channel (counted once, after commit; an idempotent replay is not a new ticket)",
    ["channel"],
)
