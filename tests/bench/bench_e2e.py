"""`python -m tests.bench e2e`: tickets from the HTTP create to their task on ``dept.<code>.tasks``.

On the running stack (tests/bench/stack.py), tickets posted by wrk through the gateway (tests/bench/load.py,
the same bodies as bench_intake) and read back by a department-side reader subscribed to every
``dept.*.tasks`` topic. A ticket has arrived with its first ``cityloop.task.assigned``, or, when it joined an
open case (并单), with the ``cityloop.task.updated`` "merged" its lead department gets. Latency = arrival
at the reader minus the ticket's ``created_at`` in intake (stamped in the request, before its transaction).

1. probe: wrk at full speed for PROBE seconds, then wait until every ticket arrived: the pipeline's
   capacity = tickets / (last arrival - start);
2. sustained: wrk at a fixed rate (CITYLOOP_BENCH_E2E_RATE, else 90 % of the capacity) for SECONDS;
   arrival rate, p50/p99 latency of the tickets created in it, and whether the backlog grew: tickets
   created but not arrived, and the router's consumer lag on ticket.lifecycle, sampled every 2 s;
3. baseline (tests/bench/raw_hops.py): the same payload through the same two Kafka hops with raw aiokafka,
   at full speed (its capacity) and at the sustained phase's rate (its latency).
"""

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityloop.common.topics import ensure_topics
from tests.bench import figures, load
from tests.bench.bench_intake import BODIES, token
from tests.bench.figures import record, sized
from tests.bench.stack import Stack
from tests.bench.workload import task_topics, ticket_bodies
from tests.tasks import background

NEEDS_STACK = True
PROBE_SECONDS = float(os.environ.get("CITYLOOP_BENCH_E2E_PROBE_SECONDS", sized(30, 10)))
SECONDS = float(os.environ.get("CITYLOOP_BENCH_E2E_SECONDS", sized(180, 30)))
RATE = float(os.environ.get("CITYLOOP_BENCH_E2E_RATE", "0"))
RAW_MESSAGES = int(sized(100_000, 20_000))
DRAIN_TIMEOUT = 600.0
REPO = Path(__file__).resolve().parents[2]
MERGED_NOTE = re.compile(r"ticket (\S+) \(another citizen\) merged")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class TaskReader:
    """Every dept.*.tasks topic of the deployment; the first arrival of each ticket (wall clock)."""

    bootstrap: str
    prefix: str
    since_ms: int
    arrived: dict[str, float] = field(default_factory=dict)

    async def run(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=f"bench-e2e-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=1000,  # task topics appear with a department's first task
            isolation_level="read_committed",
        )
        consumer.subscribe(pattern=f"^{re.escape(self.prefix)}dept\\..+\\.tasks$")
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                ready.set()
                now = time.time()
                for records in batches.values():
                    for r in records:
                        if r.timestamp >= self.since_ms:
                            self._seen(r.value, now)
        finally:
            await consumer.stop()

    def _seen(self, value: bytes | None, now: float) -> None:
        try:
            event = orjson.loads(value or b"")
            data = event["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        ticket: str | None = None
        if event.get("type") == "cityloop.task.assigned":
            ticket = data.get("ticket_id")
        elif event.get("type") == "cityloop.task.updated" and data.get("change") == "merged":
            match = MERGED_NOTE.search(data.get("note") or "")
            ticket = match.group(1) if match else None
        if ticket and ticket not in self.arrived:
            self.arrived[ticket] = now


@dataclass
class Sample:
    at: float
    created: int
    arrived: int
    router_lag: int


@dataclass
class Watch:
    """Created vs arrived and the router's consumer lag, every 2 s."""

    db: asyncpg.Pool
    reader: TaskReader
    since: datetime
    bootstrap: str
    group: str
    topic: str
    samples: list[Sample] = field(default_factory=list)

    async def created(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM intake.tickets WHERE created_at >= $1", self.since))

    async def run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await ends.start()
        try:
            while True:
                lag = -1
                with contextlib.suppress(Exception):
                    committed = await admin.list_consumer_group_offsets(self.group)
                    mine = {tp: meta.offset for tp, meta in committed.items() if tp.topic == self.topic}
                    if mine:
                        end = await ends.end_offsets(list(mine))
                        lag = sum(max(0, end[tp] - offset) for tp, offset in mine.items())
                self.samples.append(Sample(time.time(), await self.created(), len(self.reader.arrived), lag))
                await asyncio.sleep(2.0)
        finally:
            await ends.stop()
            await admin.close()


async def until(check: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if check():
                return
            await asyncio.sleep(0.1)


async def drained(watch: Watch, seconds: float) -> bool:
    """Until every ticket created since the start has arrived (False after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(watch.reader.arrived) >= await watch.created():
            return True
        await asyncio.sleep(0.5)
    return False


async def created_at(db: asyncpg.Pool, ids: list[str]) -> dict[str, float]:
    rows = await db.fetch("SELECT id, created_at FROM intake.tickets WHERE id = ANY($1::text[])", ids)
    return {r["id"]: r["created_at"].timestamp() for r in rows}


async def measure_stack(stack: Stack) -> dict[str, float]:
    settings = stack.settings
    await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix, task_topics())
    url = f"{stack.gateway}/api/v1/tickets"
    bodies = ticket_bodies(BODIES, seed=int(time.time()))
    auth = {"Authorization": f"Bearer {await token(stack.gateway)}"}
    since = datetime.now(UTC)
    reader = TaskReader(settings.kafka_bootstrap, settings.topic_prefix, int(since.timestamp() * 1000) - 1000)
    db = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=3)
    group = f"{settings.topic_prefix}cityloop.router.intake"
    watch = Watch(db, reader, since, settings.kafka_bootstrap, group, f"{settings.topic_prefix}ticket.lifecycle")
    ready = asyncio.Event()
    try:
        async with background(reader.run(ready)), background(watch.run()):
            await asyncio.wait_for(ready.wait(), 60)
            print(f"  probe: wrk at full speed for {PROBE_SECONDS:.0f} s ...", flush=True)
            started = time.time()
            probe = await load.post(url, bodies, seconds=PROBE_SECONDS, headers=auth, idempotency=True)
            if not await drained(watch, DRAIN_TIMEOUT):
                raise RuntimeError(f"probe: {await watch.created() - len(reader.arrived)} tickets never arrived")
            probe_created = await watch.created()
            capacity = probe_created / (max(reader.arrived.values()) - started)
            rate = RATE or 0.9 * capacity
            print(
                f"  probe: {probe.rate:,.0f} created/s for {PROBE_SECONDS:.0f} s, all {probe_created:,} arrived;"
                f" capacity {capacity:,.0f}/s. sustained: {rate:,.0f}/s for {SECONDS:.0f} s ...",
                flush=True,
            )
            phase_start = time.time()
            first_sample = len(watch.samples)
            sustained = await load.post(url, bodies, seconds=SECONDS, headers=auth, idempotency=True, rate=rate)
            phase_end = time.time()
            samples = watch.samples[first_sample:]
            all_arrived = await drained(watch, DRAIN_TIMEOUT)
        phase_ids = [t for t, at in reader.arrived.items() if at >= phase_start]
        stamps = await created_at(db, list(reader.arrived))
        in_phase = {t: at for t, at in reader.arrived.items() if phase_start <= stamps.get(t, 0) <= phase_end}
        latencies = [at - stamps[t] for t, at in in_phase.items()]
        arrived_in_window = sum(1 for t in phase_ids if reader.arrived[t] <= phase_end)
    finally:
        await db.close()
    backlog = [s.created - s.arrived for s in samples]
    third = len(backlog) // 3
    growing = bool(backlog) and backlog[-1] > backlog[third] + max(2.0 * rate, 50.0)
    lags = [s.router_lag for s in samples if s.router_lag >= 0]
    return {
        "capacity": capacity,
        "probe_created_rate": probe.rate,
        "rate_asked": rate,
        "created_rate": sustained.rate,
        "arrival_rate": arrived_in_window / (phase_end - phase_start),
        "p50": _percentile(latencies, 0.50),
        "p99": _percentile(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
        "tickets": float(len(latencies)),
        "backlog_third": float(backlog[third]) if backlog else float("nan"),
        "backlog_end": float(backlog[-1]) if backlog else float("nan"),
        "router_lag_max": float(max(lags, default=-1)),
        "router_lag_end": float(lags[-1]) if lags else -1.0,
        "growing": float(growing),
        "all_arrived": float(all_arrived),
        "http_errors": float(sustained.failed + probe.failed),
    }


# --- the baseline -------------------------------------------------------------------------------------


@dataclass
class RawReader:
    bootstrap: str
    topic: str
    arrived: list[tuple[float, float]] = field(default_factory=list)  # (sent, arrived)

    async def run(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            group_id=f"{self.topic}.reader",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                ready.set()
                now = time.time()
                for records in batches.values():
                    for r in records:
                        sent = next((float(v) for k, v in r.headers if k == "sent"), now)
                        self.arrived.append((sent, now))
        finally:
            await consumer.stop()


async def _produce(producer: AIOKafkaProducer, topic: str, payloads: list[bytes], n: int, rate: float | None) -> None:
    started = time.monotonic()
    pending = []
    for i in range(n):
        if rate:
            wait = started + i / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        headers = [("sent", repr(time.time()).encode())]
        pending.append(await producer.send(topic, payloads[i % len(payloads)], key=str(i).encode(), headers=headers))
        if len(pending) >= 1000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def measure_raw(bootstrap: str, prefix: str, rate: float, seconds: float) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    a, b = f"{prefix}bench-raw-{run}.a", f"{prefix}bench-raw-{run}.b"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(a, 6, 1), NewTopic(b, 1, 1)])
        # The same payload as a ticket: the event intake publishes for one of the bench's bodies.
        payloads = [orjson.dumps({"type": "cityloop.ticket.created", "data": body}) for body in ticket_bodies(BODIES)]
        forwarder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.raw_hops", "forward", bootstrap, a, b,
            cwd=REPO,
        )  # fmt: skip
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
        await producer.start()
        reader = RawReader(bootstrap, b)
        ready = asyncio.Event()
        try:
            async with background(reader.run(ready)):
                await asyncio.wait_for(ready.wait(), 60)
                await _produce(producer, a, payloads, 200, None)  # warm up: the forwarder joined its group
                await until(lambda: len(reader.arrived) >= 200, 120)
                reader.arrived.clear()
                print(f"  raw aiokafka, {RAW_MESSAGES:,} messages at full speed ...", flush=True)
                started = time.time()
                await _produce(producer, a, payloads, RAW_MESSAGES, None)
                await until(lambda: len(reader.arrived) >= RAW_MESSAGES, DRAIN_TIMEOUT)
                capacity = RAW_MESSAGES / (max(at for _, at in reader.arrived) - started)
                reader.arrived.clear()
                n = int(rate * seconds)
                print(f"  raw aiokafka at {rate:,.0f}/s for {seconds:.0f} s ...", flush=True)
                await _produce(producer, a, payloads, n, rate)
                await until(lambda: len(reader.arrived) >= n, DRAIN_TIMEOUT)
                latencies = [at - sent for sent, at in reader.arrived]
        finally:
            await producer.stop()
            forwarder.send_signal(signal.SIGTERM)
            await forwarder.wait()
        return {"capacity": capacity, "p50": _percentile(latencies, 0.5), "p99": _percentile(latencies, 0.99)}
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics([a, b])
        await admin.close()


async def run(stack: Stack) -> None:
    real = await measure_stack(stack)
    raw = await measure_raw(
        stack.settings.kafka_bootstrap, stack.settings.topic_prefix, real["rate_asked"], min(SECONDS, 30.0)
    )
    grew = "GREW" if real["growing"] else "did not grow"
    record(
        "created -> task on dept topic, capacity",
        real["capacity"],
        "tickets/s",
        baseline=raw["capacity"],
        baseline_name="raw aiokafka, 2 hops",
        target=">= 1000/s, >= 0.25x",
        note=f"probe: wrk full speed {PROBE_SECONDS:.0f} s ({real['probe_created_rate']:,.0f} created/s),"
        " all arrived; tickets / (last arrival - start)",
    )
    record(
        f"sustained {SECONDS:.0f} s: arrivals",
        real["arrival_rate"],
        "tickets/s",
        baseline=raw["capacity"],
        baseline_name="raw aiokafka, 2 hops",
        note=f"asked {real['rate_asked']:,.0f}/s, created {real['created_rate']:,.0f}/s; backlog (created, not"
        f" arrived) {real['backlog_third']:,.0f} at 1/3, {real['backlog_end']:,.0f} at the end: {grew};"
        f" router lag max {real['router_lag_max']:,.0f}, end {real['router_lag_end']:,.0f};"
        f" HTTP errors {real['http_errors']:,.0f}",
    )
    for name in ("p50", "p99"):
        record(
            f"sustained: latency {name}",
            real[name] * 1000,
            "ms",
            baseline=raw[name] * 1000,
            baseline_name=f"raw aiokafka at {real['rate_asked']:,.0f}/s",
            better="lower",
            target="<= 500 ms" if name == "p99" else "",
            note=f"{real['tickets']:,.0f} tickets; max {real['max'] * 1000:,.0f} ms",
        )
    figures.note(f"e2e backlog {grew}; every ticket arrived: {bool(real['all_arrived'])}")
