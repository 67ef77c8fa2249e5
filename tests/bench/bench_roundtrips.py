"""`python -m tests.bench roundtrips`: database round trips per ticket, by service, from the create to the
task on the department's topic and everything it sets off (sla's deadlines, feedback, intake's trail).

Machine-independent, unlike the timed benchmarks: the four services run in this process (as the
integration tests' `loop` fixture runs them) on a database and topic prefix of their own, every statement
asyncpg sends is counted per service (by the connection's application_name, cityloop-<schema>), TICKETS
tickets are created through the gateway, BURST at a time, and once all are routed and the counts stop
moving the totals are divided by TICKETS. A statement is one round trip (BEGIN and COMMIT included); asyncpg's statement
cache prepares each distinct statement once per connection, a round trip not counted here.
"""

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from cityloop.common.topics import delete_topics_with_prefix
from tests.bench.figures import record, sized
from tests.bench.workload import ticket_bodies
from tests.databases import scratch_database

TICKETS = int(os.environ.get("CITYLOOP_BENCH_ROUNDTRIP_TICKETS", sized(200, 60)))
KAFKA = os.environ.get("CITYLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
#: Tickets created at once (a call centre's operators at work), so consumers get several events per poll.
BURST = int(os.environ.get("CITYLOOP_BENCH_ROUNDTRIP_BURST", "10"))
COUNTS: Counter[str] = Counter()
#: (service, statement) -> how many times: which statements a ticket costs (printed, the top ones).
STATEMENTS: Counter[tuple[str, str]] = Counter()


#: Set around each create request (the in-process gateway runs in the caller's task, consumers in theirs).
IN_REQUEST: ContextVar[bool] = ContextVar("in_request", default=False)
REQUEST_COUNTS: Counter[str] = Counter()


def _count(conn: asyncpg.Connection, query: object) -> None:
    service = _service(conn)
    COUNTS[service] += 1
    if IN_REQUEST.get():
        REQUEST_COUNTS[service] += 1
    STATEMENTS[(service, " ".join(str(query).split())[:110])] += 1


def _service(conn: asyncpg.Connection) -> str:
    name = str(getattr(conn.get_settings(), "application_name", "") or "")
    return name.removeprefix("cityloop-") or "other"


def count_statements() -> None:
    """Wrap asyncpg's Connection so every statement it sends is counted for its service."""
    cls: Any = asyncpg.connection.Connection
    if getattr(cls, "_bench_counted", False):
        return
    execute, _execute, _executemany = cls.execute, cls._execute, cls._executemany

    async def counted_execute(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _execute, counted there
            _count(self, query)
        return await execute(self, query, *args, **kwargs)

    async def counted__execute(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        _count(self, query)
        return await _execute(self, query, *args, **kwargs)

    async def counted__executemany(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        _count(self, query)
        return await _executemany(self, query, *args, **kwargs)

    cls.execute, cls._execute, cls._executemany = counted_execute, counted__execute, counted__executemany
    cls._bench_counted = True


@asynccontextmanager
async def services(dsn: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    """The four services in this process; yields the gateway signed in as the demo call-taker."""
    os.environ.update(
        CITYLOOP_ENVIRONMENT="test",
        CITYLOOP_DATABASE_URL=dsn,
        CITYLOOP_TOPIC_PREFIX=prefix,
        CITYLOOP_KAFKA_BOOTSTRAP=KAFKA,
        CITYLOOP_LOG_LEVEL="WARNING",
        CITYLOOP_ROUTER_TASK_TOPICS_AT_START="false",
        # Idle polling out of the counts: the relays wake on NOTIFY anyway, and no timer falls due here.
        CITYLOOP_OUTBOX_IDLE_SECONDS="60",
        CITYLOOP_SLA_TICK_SECONDS="60",
    )
    # After the environment points at the scratch database: the settings are read when the apps are made.
    from cityloop.feedback.app import create_app as feedback_app  # noqa: PLC0415
    from cityloop.intake.app import create_app as intake_app  # noqa: PLC0415
    from cityloop.intake.settings import IntakeSettings  # noqa: PLC0415
    from cityloop.router.app import create_app as router_app  # noqa: PLC0415
    from cityloop.sla.app import create_app as sla_app  # noqa: PLC0415
    from tests.integration.conftest import InProcessServices  # noqa: PLC0415

    others: dict[str, FastAPI] = {"router": router_app(), "sla": sla_app(), "feedback": feedback_app()}
    settings = IntakeSettings(router_url="http://router", sla_url="http://sla", feedback_url="http://feedback")
    apps = {"intake": intake_app(settings, upstream_transport=InProcessServices(others)), **others}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with asyncio.timeout(120):
            for app in apps.values():
                await app.state.runtime.wait_consumers_ready()
        transport = httpx.ASGITransport(app=apps["intake"])
        client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://intake"))
        login = await client.post("/api/v1/auth/token", data={"username": "calltaker", "password": "demo-calltaker"})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


async def routed(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM router.tickets WHERE status <> 'received'")  # routed somehow
        )
    finally:
        await conn.close()


#: Statements that only feed a gauge (the outbox backlog, every 10 s): not a ticket's work.
GAUGES = ("SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at))",)


def _gauge(query: str) -> bool:
    return query.startswith(GAUGES)


async def settle(dsn: str, count: int) -> None:
    """Until every ticket is routed and no statement but a gauge's was sent for 3 s."""
    async with asyncio.timeout(900):
        while True:
            if await routed(dsn) >= count:
                break
            await asyncio.sleep(0.5)
        quiet = 0
        while quiet < 3:
            before = sum(n for (_, q), n in STATEMENTS.items() if not _gauge(q))
            await asyncio.sleep(1.0)
            now = sum(n for (_, q), n in STATEMENTS.items() if not _gauge(q))
            quiet = 0 if now > before else quiet + 1


async def create(gateway: httpx.AsyncClient, i: int, body: dict[str, Any]) -> None:
    token = IN_REQUEST.set(True)  # each gathered create runs in a task of its own, with its own context
    try:
        response = await gateway.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": f"rt-{i}"})
    finally:
        IN_REQUEST.reset(token)
    assert response.status_code == 201, response.text


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-rt-{run}."
    count_statements()
    try:
        async with scratch_database(f"cityloop_bench_rt_{run}") as dsn, services(dsn, prefix) as gateway:
            await asyncio.sleep(5)  # start-up work (seeding, first polls) out of the way
            COUNTS.clear()
            STATEMENTS.clear()
            bodies = ticket_bodies(TICKETS, seed=99)
            for first in range(0, TICKETS, BURST):
                await asyncio.gather(
                    *(create(gateway, i, bodies[i]) for i in range(first, min(TICKETS, first + BURST)))
                )
            await settle(dsn, TICKETS)
            total: Counter[str] = Counter()
            for (service, query), n in STATEMENTS.items():
                if not _gauge(query):
                    total[service] += n
    finally:
        await delete_topics_with_prefix(KAFKA, prefix)
    request = REQUEST_COUNTS["intake"] / TICKETS
    print(f"statements per ticket over {TICKETS} tickets (the create request in intake: {request:.1f}):")
    for service in ("intake", "router", "sla", "feedback"):
        per = total.get(service, 0) / TICKETS
        print(f"  {service:<9} {per:6.1f}")
        record(f"DB round trips per ticket: {service}", per, "statements", better="lower", note=f"{TICKETS} tickets")
    for service in ("intake", "router", "sla", "feedback"):
        print(f"  {service}'s statements, per ticket:")
        for (owner, query), n in STATEMENTS.most_common():
            if owner == service and n / TICKETS >= 0.2:
                print(f"    {n / TICKETS:5.2f}  {query}")
    all_per = sum(total.values()) / TICKETS
    print(f"  {'all':<9} {all_per:6.1f}")
    record("DB round trips per ticket: the create request", request, "statements", better="lower")
    record("DB round trips per ticket: all services", all_per, "statements", better="lower")
