"""Emergency mode's Prometheus metrics; labels are fixed small sets (never an emergency id)."""

from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from cityloop.common.contract.emergencies import Emergency

ACTIVE = Gauge("cityloop_emergencies_active", "Emergencies in force, as this router's view of control.mode has them")
TICKETS = Gauge(
    "cityloop_emergency_tickets", "Open tickets handled under an emergency (recounted after each change and every 15 s)"
)
FIRST_ROUTING = Histogram(
    "cityloop_emergency_first_routing_seconds",
    "From an emergency's declaration to the first new ticket routed under it",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
REHOME_SECONDS = Histogram(
    "cityloop_emergency_rehome_seconds",
    "One re-homing run over the open tickets an emergency change affects",
    ["phase"],
    buckets=(0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
REHOMED = Counter("cityloop_emergency_rehomed_tickets_total", "Open tickets moved by re-homing", ["phase"])
PROPOSALS = Counter("cityloop_emergency_proposals_total", "Surge proposals, by what became of them", ["outcome"])

_routed: set[str] = set()


def first_routing(emergency: Emergency) -> None:
    """Observe declaration -> first ticket routed under it, once per emergency (per process)."""
    if emergency.id in _routed:
        return
    _routed.add(emergency.id)
    FIRST_ROUTING.observe(max(0.0, (datetime.now(UTC) - emergency.declared_at).total_seconds()))
