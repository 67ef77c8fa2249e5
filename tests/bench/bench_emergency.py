"""`python -m tests.bench emergency`: how fast the city switches modes.

On a database and a topic prefix of its own, with the real router running in this process:
1. declare-to-first-routing: the declare call answers, a new in-scope ticket arrives on ticket.lifecycle
   at once; the time until router has committed its dispatch under the emergency (target <= 1 s);
2. for each size N (``CITYLOOP_BENCH_EMERGENCY_TICKETS``, default ``10000,100000``): N open peacetime
   tickets in scope are seeded, then the emergency is declared and later stood down; reported: the
   re-homing run (every ticket moved and its events in the outbox, batches in their own transactions;
   target 100,000 <= 60 s), the time until the outbox relay had published all of it to Kafka, and the
   declare-to-first-routing time of a ticket arriving while the re-homing runs;
3. when the switch is done, by two definitions: (a) router's side: the re-homing committed and every event
   it made published; (b) the city's side: besides, every consumer running here has read them (router's own
   groups and sla, run as a process of its own that opens the new clocks: CITYLOOP_BENCH_EMERGENCY_SLA=0
   leaves it out). intake's trail and feedback are not run: they would know none of the seeded tickets.
   Each with its CPU (process + its PostgreSQL backends), which does not depend on the machine's load.
"""

import asyncio
import contextlib
import functools
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.pool import PgPool
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.logging import configure_logging
from cityloop.common.topics import delete_topics_with_prefix
from tests import stand_ins
from tests.databases import scratch_database

print = functools.partial(print, flush=True)
KAFKA = os.environ.get("CITYLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
SIZES = [int(s) for s in os.environ.get("CITYLOOP_BENCH_EMERGENCY_TICKETS", "10000,100000").split(",") if s]
WITH_SLA = os.environ.get("CITYLOOP_BENCH_EMERGENCY_SLA", "1") != "0"
SLA_PORT = int(os.environ.get("CITYLOOP_BENCH_EMERGENCY_SLA_PORT", "38001"))
DISTRICT = "pd"
CATEGORY = "water.flooding"


def declaration(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "level": "II",
        "scope": {"districts": [DISTRICT], "streets": []},
        "categories": [CATEGORY],
        "command_unit": f"{DISTRICT}-ops",
        "participants": {CATEGORY: [f"{DISTRICT}-water", f"{DISTRICT}-transport", f"{DISTRICT}-emergency"]},
        "deadlines": {"accept_minutes": 10, "onsite_minutes": 30, "resolve_minutes": 120},
    }


async def seed(pool: PgPool, n: int, streets: list[str]) -> None:
    """N open tickets in scope, each dispatched in peacetime to the district's water bureau (lead) with the
    transport bureau assisting, as router would have left them."""
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    ids = [f"T-bench-{run}-{i:07d}" for i in range(n)]
    chains = [
        {"district": DISTRICT, "street": streets[i % len(streets)], "community": None, "grid": None} for i in range(n)
    ]
    resolved = [
        orjson.dumps(
            {"chain": c, "level": "street", "how": "bench", "district": DISTRICT, "problem": None, "point": None}
        ).decode()
        for c in chains
    ]
    # Single jsonb parameters go through the pool's JSON codec as dicts; the per-row ones as text, cast.
    location = {"address": "浦东新区某路1号"}
    classification = {"category": CATEGORY, "confidence": 1.0, "source": "call_taker"}
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO tickets (ticket_id, category, description, location, urgency, citizen, status, created_at,"
            " classification, resolved, decision, district, street)"
            " SELECT id, $2, '暴雨后路口积水', $3::jsonb, 'urgent', '{}'::jsonb, 'dispatched', $4, $5::jsonb,"
            " r::jsonb, '{}'::jsonb, $6, s FROM unnest($1::text[], $7::text[], $8::text[]) AS x(id, r, s)",
            ids,
            CATEGORY,
            location,
            now,
            classification,
            DISTRICT,
            resolved,
            [c["street"] for c in chains],
        )
        for dept, role in ((f"{DISTRICT}-water", "lead"), (f"{DISTRICT}-transport", "assist")):
            await conn.execute(
                "INSERT INTO assignments (id, ticket_id, dept_code, role, status, reason)"
                " SELECT 'A-' || $2 || '-' || id, id, $2, $3, 'assigned', '{}'::jsonb FROM unnest($1::text[]) AS x(id)",
                ids,
                dept,
                role,
            )


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0  # ended since
    return int(fields[11]) + int(fields[12])  # utime, stime


#: CPU seconds so far by service: its process and the PostgreSQL backends serving it (by database role).
Cpu = dict[str, float]


async def cpu_seconds(pool: PgPool, sla_pid: int | None) -> Cpu:
    """CPU used so far by router (this process), sla (its process) and the PostgreSQL backends of each (read
    from /proc, same machine): unlike wall time, it does not depend on what else the machine runs."""
    rows = await pool.fetch("SELECT pid, usename FROM pg_stat_activity WHERE datname = current_database()")
    hz = os.sysconf("SC_CLK_TCK")
    out = {"router": time.process_time(), "router PostgreSQL": 0.0, "sla": 0.0, "sla PostgreSQL": 0.0}
    for row in rows:
        role = "sla" if row["usename"] == "cityloop_sla" else "router"
        out[f"{role} PostgreSQL"] += _ticks(row["pid"]) / hz
    if sla_pid is not None:
        out["sla"] = _ticks(sla_pid) / hz
    return out


def used(before: Cpu, after: Cpu, *, sla: bool = False) -> str:
    d = {k: after[k] - before[k] for k in after}
    router = f"router {d['router']:.1f} s + PostgreSQL {d['router PostgreSQL']:.1f} s"
    if not sla:
        return f"CPU {d['router'] + d['router PostgreSQL']:.1f} s: {router}"
    return f"CPU {sum(d.values()):.1f} s: {router}; sla {d['sla']:.1f} s + PostgreSQL {d['sla PostgreSQL']:.1f} s"


class Lags:
    """Records of ticket.lifecycle and the task topics not yet read by the consumer groups under test."""

    def __init__(self, prefix: str, groups: list[str]) -> None:
        self.groups = [f"{prefix}cityloop.{g}" for g in groups]
        self._admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)

    async def __aenter__(self) -> "Lags":
        await self._admin.start()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def total(self) -> int:
        lag = 0
        for group in self.groups:
            committed = {tp: meta.offset for tp, meta in (await self._admin.list_consumer_group_offsets(group)).items()}
            if committed:
                ends = await self._consumer.end_offsets(list(committed))
                lag += sum(max(0, ends[tp] - max(off, 0)) for tp, off in committed.items())
        return lag

    async def caught_up(self) -> None:
        while await self.total():  # noqa: ASYNC110 — polling other processes' progress
            await asyncio.sleep(0.5)


async def outbox_drained(pool: PgPool) -> float:
    started = time.perf_counter()
    while await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def first_routed(pool: PgPool, ticket_id: str, emergency_id: str) -> None:
    while (  # noqa: ASYNC110 — polling another process's commit
        # dispatched under it, or joined one of its incidents (一件事): routed by the emergency either way
        await pool.fetchval(
            "SELECT emergency_id FROM tickets WHERE ticket_id = $1 AND status IN ('dispatched', 'merged')", ticket_id
        )
        != emergency_id
    ):
        await asyncio.sleep(0.002)


async def new_ticket(producer: AIOKafkaProducer, prefix: str, street_address: str) -> str:
    ticket_id = f"T-new-{uuid.uuid4().hex[:10]}"
    event = stand_ins.lifecycle(
        "/cityloop/intake",
        types.TICKET_CREATED,
        ticket_id,
        TicketStatus.RECEIVED,
        {
            "channel": "hotline",
            "category": CATEGORY,
            "description": "暴雨后路口积水很深",
            "location": {"address": street_address},
            "urgency": "urgent",
            "citizen": {},
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    await producer.send_and_wait(
        f"{prefix}ticket.lifecycle",
        event.to_bytes(),
        key=ticket_id.encode(),
        headers=[("content-type", b"application/cloudevents+json")],
    )
    return ticket_id


@asynccontextmanager
async def sla_running() -> AsyncIterator[int | None]:
    """sla as a process of its own (same database and prefix), as it runs in the city; yields its pid."""
    if not WITH_SLA:
        yield None
        return
    log = Path(os.environ.get("CITYLOOP_HOME", ".local")) / "bench" / "emergency-sla.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cityloop.sla",
            env={**os.environ, "CITYLOOP_SLA_HTTP_PORT": str(SLA_PORT)},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{SLA_PORT}", timeout=5) as client:
                deadline = time.monotonic() + 300
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    if process.returncode is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"sla did not start: see {log}")
                    await asyncio.sleep(1)
            yield process.pid
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


@asynccontextmanager
async def router_running() -> AsyncIterator[Any]:
    from cityloop.router.app import create_app  # noqa: PLC0415 — after the environment points at the scratch DB

    app = create_app()
    async with app.router.lifespan_context(app):
        await app.state.runtime.wait_consumers_ready()
        yield app


async def switch(
    app: Any, producer: AIOKafkaProducer, lags: Lags, *, sla: int | None, address: str, n: int, secret: str, prefix: str
) -> dict[str, Any]:
    pool: PgPool = app.state.runtime.pool
    rehomer = app.state.rehomer
    headers = {HEADER: encode_identity(Identity(subject="bench", role=Role.COMMAND_CENTRE), secret)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router", headers=headers, timeout=120
    ) as client:
        await lags.caught_up()
        cpu = await cpu_seconds(pool, sla)
        response = await client.post("/api/v1/emergencies", json=declaration(f"bench {n}"))
        answered = time.perf_counter()
        assert response.status_code == 201, response.text
        eid = response.json()["id"]
        ticket_id = await new_ticket(producer, prefix, address)
        await first_routed(pool, ticket_id, eid)
        first = time.perf_counter() - answered
        await asyncio.sleep(0)
        await rehomer.idle.wait()
        declare_rehome = rehomer.last_run[eid]
        declare_cpu = used(cpu, await cpu_seconds(pool, sla))
        declare_published = await outbox_drained(pool)
        declare_router_done = time.perf_counter() - answered
        declare_router_cpu = used(cpu, await cpu_seconds(pool, sla))
        await lags.caught_up()
        declare_city_done = time.perf_counter() - answered
        declare_city_cpu = used(cpu, await cpu_seconds(pool, sla), sla=sla is not None)
        moved_in = await pool.fetchval("SELECT count(*) FROM tickets WHERE emergency_id = $1", eid)

        cpu = await cpu_seconds(pool, sla)
        response = await client.post(f"/api/v1/emergencies/{eid}/stand-down")
        answered = time.perf_counter()
        assert response.status_code == 200, response.text
        await asyncio.sleep(0)
        await rehomer.idle.wait()
        stand_down_rehome = rehomer.last_run[eid]
        stand_down_cpu = used(cpu, await cpu_seconds(pool, sla))
        stand_down_published = await outbox_drained(pool)
        stand_down_router_done = time.perf_counter() - answered
        stand_down_router_cpu = used(cpu, await cpu_seconds(pool, sla))
        await lags.caught_up()
        stand_down_city_done = time.perf_counter() - answered
        stand_down_city_cpu = used(cpu, await cpu_seconds(pool, sla), sla=sla is not None)
        left = await pool.fetchval("SELECT count(*) FROM tickets WHERE emergency_id IS NOT NULL")
    return {
        "declare_router_done": (declare_router_done, declare_router_cpu),
        "declare_city_done": (declare_city_done, declare_city_cpu),
        "stand_down_router_done": (stand_down_router_done, stand_down_router_cpu),
        "stand_down_city_done": (stand_down_city_done, stand_down_city_cpu),
        "first_routing_s": first,
        "declare_rehome_s": declare_rehome,
        "declare_cpu": declare_cpu,
        "stand_down_cpu": stand_down_cpu,
        "declare_publish_more_s": declare_published,
        "moved_in": float(moved_in),
        "stand_down_rehome_s": stand_down_rehome,
        "stand_down_publish_more_s": stand_down_published,
        "left_in_emergency": float(left),
    }


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}."
    database = f"cityloop_bench_{run}"
    try:
        async with scratch_database(database) as dsn:
            configure_logging("bench", level="WARNING", json=False)
            os.environ.update(
                CITYLOOP_DATABASE_URL=dsn,
                CITYLOOP_TOPIC_PREFIX=prefix,
                CITYLOOP_ENVIRONMENT="test",
                CITYLOOP_LOG_LEVEL="WARNING",
                CITYLOOP_LOG_JSON="false",
                # Task topics come on first publish: the bench touches four departments, not all ~900.
                CITYLOOP_ROUTER_TASK_TOPICS_AT_START="false",
            )
            groups = ["router.intake", *(["sla.clocks"] if WITH_SLA else [])]
            async with sla_running() as sla, router_running() as app, Lags(prefix, groups) as lags:
                async with app.state.runtime.pool.acquire() as conn:
                    master = await app.state.router_ctx.master.current(conn)
                streets = sorted(s for s in master.streets if s.startswith(f"{DISTRICT}-"))
                from tests.integration.routing_support import address_in  # noqa: PLC0415

                # A street per switch, so that a new ticket does not join the previous one's incident.
                addresses = iter(address_in(street) for street in streets)
                address = next(addresses)
                secret = app.state.runtime.settings.internal_secret
                producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
                await producer.start()
                try:
                    go = functools.partial(switch, app, producer, lags, sla=sla, secret=secret, prefix=prefix)
                    clean = await go(address=address, n=0)
                    first = clean["first_routing_s"]
                    print(f"declare answer -> first in-scope ticket routed (nothing to re-home): {first:.3f} s")
                    for n in SIZES:
                        started = time.perf_counter()
                        await seed(app.state.runtime.pool, n, streets)
                        print(f"\n{n:,} open tickets seeded in {time.perf_counter() - started:.1f} s")
                        r = await go(address=next(addresses), n=n)
                        moved, took = int(r["moved_in"]), r["declare_rehome_s"]
                        print(
                            f"  declaration: {moved:,} re-homed to the command in {took:.1f} s"
                            f" ({moved / max(took, 1e-9):,.0f}/s;"
                            f" {r['declare_cpu']});"
                            f" all events on Kafka {r['declare_publish_more_s']:.1f} s later"
                        )
                        first = r["first_routing_s"]
                        print(f"  first in-scope ticket routed while re-homing: {first:.3f} s after the answer")
                        print(
                            f"  stand-down: re-homed to the peacetime leads in {r['stand_down_rehome_s']:.1f} s"
                            f" ({r['stand_down_cpu']});"
                            f" all events on Kafka {r['stand_down_publish_more_s']:.1f} s later;"
                            f" left in emergency mode: {int(r['left_in_emergency'])}"
                        )
                        for phase in ("declare", "stand_down"):
                            (took, cpu), (all_took, all_cpu) = r[f"{phase}_router_done"], r[f"{phase}_city_done"]
                            print(
                                f"  {phase.replace('_', '-')} done, router's side (re-homed + published):"
                                f" {took:.1f} s after the answer ({cpu});"
                                f" every consumer here caught up ({', '.join(groups)}): {all_took:.1f} s ({all_cpu})"
                            )
                finally:
                    await producer.stop()
    finally:
        await delete_topics_with_prefix(KAFKA, prefix)
