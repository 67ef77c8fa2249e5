"""`python -m tests.bench emergency`: how fast the city switches modes.

On a database and a topic prefix of its own, with the real router running in this process:
1. declare-to-first-routing: the declare call answers, a new in-scope ticket arrives on ticket.lifecycle
   at once; the time until router has committed its dispatch under the emergency (target <= 1 s);
2. for each size N (``CITYLOOP_BENCH_EMERGENCY_TICKETS``, default ``10000,100000``): N open peacetime
   tickets in scope are seeded, then the emergency is declared and later stood down; reported: the
   re-homing run (every ticket moved and its events in the outbox, batches in their own transactions;
   target 100,000 <= 60 s), the time until the outbox relay had published all of it to Kafka, and the
   declare-to-first-routing time of a ticket arriving while the re-homing runs.
"""

import asyncio
import functools
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

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


async def cpu_seconds(pool: PgPool) -> tuple[float, float]:
    """CPU used so far by this process and by the PostgreSQL backends serving this database (read from
    /proc, same machine): unlike wall time, it does not depend on what else the machine runs."""
    pids = await pool.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    ticks = 0
    for row in pids:
        try:
            fields = Path(f"/proc/{row['pid']}/stat").read_text().rsplit(")", 1)[1].split()  # noqa: ASYNC240
        except OSError:
            continue  # a backend that ended since
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return time.process_time(), ticks / os.sysconf("SC_CLK_TCK")


def used(before: tuple[float, float], after: tuple[float, float]) -> str:
    router, pg = after[0] - before[0], after[1] - before[1]
    return f"CPU {router + pg:.1f} s: router {router:.1f} s + PostgreSQL {pg:.1f} s"


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
async def router_running() -> AsyncIterator[Any]:
    from cityloop.router.app import create_app  # noqa: PLC0415 — after the environment points at the scratch DB

    app = create_app()
    async with app.router.lifespan_context(app):
        await app.state.runtime.wait_consumers_ready()
        yield app


async def switch(
    app: Any, producer: AIOKafkaProducer, *, prefix: str, address: str, n: int, secret: str
) -> dict[str, Any]:
    pool: PgPool = app.state.runtime.pool
    rehomer = app.state.rehomer
    headers = {HEADER: encode_identity(Identity(subject="bench", role=Role.COMMAND_CENTRE), secret)}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router", headers=headers, timeout=120
    ) as client:
        cpu = await cpu_seconds(pool)
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
        declare_cpu = used(cpu, await cpu_seconds(pool))
        declare_published = await outbox_drained(pool)
        moved_in = await pool.fetchval("SELECT count(*) FROM tickets WHERE emergency_id = $1", eid)

        cpu = await cpu_seconds(pool)
        response = await client.post(f"/api/v1/emergencies/{eid}/stand-down")
        assert response.status_code == 200, response.text
        await asyncio.sleep(0)
        await rehomer.idle.wait()
        stand_down_rehome = rehomer.last_run[eid]
        stand_down_cpu = used(cpu, await cpu_seconds(pool))
        stand_down_published = await outbox_drained(pool)
        left = await pool.fetchval("SELECT count(*) FROM tickets WHERE emergency_id IS NOT NULL")
    return {
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
            async with router_running() as app:
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
                    clean = await switch(app, producer, prefix=prefix, address=address, n=0, secret=secret)
                    first = clean["first_routing_s"]
                    print(f"declare answer -> first in-scope ticket routed (nothing to re-home): {first:.3f} s")
                    for n in SIZES:
                        started = time.perf_counter()
                        await seed(app.state.runtime.pool, n, streets)
                        print(f"\n{n:,} open tickets seeded in {time.perf_counter() - started:.1f} s")
                        r = await switch(app, producer, prefix=prefix, address=next(addresses), n=n, secret=secret)
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
                finally:
                    await producer.stop()
    finally:
        await delete_topics_with_prefix(KAFKA, prefix)
