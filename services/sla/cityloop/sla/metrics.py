"""sla's Prometheus metrics: live timers, firings, lateness, breaches by department and category."""

import asyncio

from prometheus_client import Counter, Gauge, Histogram

from cityloop.common.db.pool import PgPool
from cityloop.sla import queries

LIVE_TIMERS = Gauge(
    "cityloop_sla_live_timers",
    "Clocks with a step still to fire, by the department's type and district (recounted periodically)",
    ["dept_type", "district"],
)
CLOCKS_OPENED = Counter("cityloop_sla_clocks_opened_total", "Clocks opened", ["kind"])
CLOCKS_CLOSED = Counter("cityloop_sla_clocks_closed_total", "Clocks closed", ["kind", "outcome"])
FIRED = Counter("cityloop_sla_fired_total", "Ladder steps fired", ["step"])
LATENESS = Histogram(
    "cityloop_sla_firing_lateness_seconds",
    "How long after its moment a ladder step was claimed",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300),
)
BREACHES = Counter("cityloop_sla_breaches_total", "Deadlines missed", ["dept", "category", "kind"])
STEPS = Counter(
    "cityloop_sla_steps_total",
    "Ladder steps fired (warning, breach, supervise = escalation, command, notice) by the department's type"
    " and district",
    ["step", "dept_type", "district"],
)
ESTIMATED_DEADLINES = Counter(
    "cityloop_sla_estimated_deadlines_total",
    "Deadlines counted weekends-only because the official calendar does not cover their year",
    ["kind"],
)


def dept_labels(dept_code: str | None) -> tuple[str, str]:
    """(department type, district) from a department code of the city model (router's
    data/generate_city.py): ``city-<type>``, ``<district>-<type>``, ``<district>-s<NN>-<type>``, the
    platform ``<district>-s<NN>``. Both are
    small sets (about 20 types, 17 districts + city); anything else is ``other``."""
    parts = (dept_code or "").split("-")
    if len(parts) == 2 and parts[1][:1] == "s" and parts[1][1:].isdigit() and parts[0].isalpha():
        return "platform", parts[0]  # a street's platform (its code is the street's: ``<district>-s<NN>``)
    if len(parts) == 2 or (len(parts) == 3 and parts[1][:1] == "s" and parts[1][1:].isdigit()):
        district, dept_type = parts[0], parts[-1]
        if district.isalpha() and dept_type.isalpha() and len(district) <= 8 and len(dept_type) <= 24:
            return dept_type, district
    return "other", "other"


async def count_live_timers(pool: PgPool, every_seconds: float) -> None:
    """Background worker: the gauge is a count, not an in-process tally, so it is right across replicas
    and restarts."""
    seen: set[tuple[str, str]] = set()
    while True:
        now: dict[tuple[str, str], int] = {}
        for dept_code, n in await queries.count_live_by_dept(pool):
            labels = dept_labels(dept_code)
            now[labels] = now.get(labels, 0) + n
        for labels in seen - set(now):  # a department whose clocks all closed shows 0, not its last count
            LIVE_TIMERS.labels(*labels).set(0)
        for labels, n in now.items():
            LIVE_TIMERS.labels(*labels).set(n)
        seen |= set(now)
        await asyncio.sleep(every_seconds)
