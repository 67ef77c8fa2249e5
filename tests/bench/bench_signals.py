"""`python -m tests.bench signals`: CPU per ticket of feedback's stream worker (``python -m
cityloop.feedback.signals``, faust) reading ticket.lifecycle at a steady rate.

A worker of its own (a topic prefix of its own, default settings) is fed the lifecycle of N tickets, ten
events each in the order a ticket's life produces them (created; dispatched, or merged into a case;
deadlines_set; accepted; deadline_met; progress; resolved; deadline_met; callback.opened; closed), over the
grids of one district and the e2e bench's categories (workload.py), at CITYLOOP_BENCH_SIGNALS_RATE tickets/s.
The figure is the worker process's CPU (utime + stime from /proc) from the first event until every event
is consumed and committed (the consumer group's lag on ticket.lifecycle and the sightings topic is 0),
divided by N; the note has the idle rate measured just before. Size: CITYLOOP_BENCH_SIGNALS_TICKETS.
"""

import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.topics import TICKET_LIFECYCLE, delete_topics_with_prefix, full_name
from cityloop.router.data.files import city_files
from tests import stand_ins
from tests.bench import figures
from tests.bench.workload import CATEGORIES, DISTRICT
from tests.ports import free_port

KAFKA = os.environ.get("CITYLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
TICKETS = int(os.environ.get("CITYLOOP_BENCH_SIGNALS_TICKETS", "1000"))
RATE = float(os.environ.get("CITYLOOP_BENCH_SIGNALS_RATE", "25"))
PARTITIONS = 6  # the worker's default, and ticket.lifecycle's
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def lifecycle(tickets: int, start: datetime, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """(key, value) of every event of ``tickets`` tickets, ticket after ticket, 25 tickets a second of
    event time; one ticket in six joins a case (merged) instead of a dispatch of its own."""
    grids = [g for g in city_files().grids if g.code.startswith(f"{DISTRICT}-")]
    random.Random(seed).shuffle(grids)
    status = TicketStatus
    out = []
    for i in range(tickets):
        grid = grids[i % len(grids)]
        street = "-".join(grid.code.split("-")[:2])
        chain = {"district": DISTRICT, "street": street, "community": grid.community, "grid": grid.code}
        location = {"chain": chain, "level": "grid", "how": "address"}
        category, description = CATEGORIES[i % len(CATEGORIES)]
        at = start + timedelta(seconds=i / 25)
        ticket, dept = f"T{seed}-{i:07d}", f"{street}"
        assignment = {"dept_code": dept, "assignment_id": f"A-{ticket}"}
        accept, resolve = at + timedelta(hours=2), at + timedelta(days=5)
        steps: list[tuple[str, TicketStatus | None, dict[str, Any]]] = [
            (
                types.TICKET_CREATED,
                status.RECEIVED,
                {
                    "channel": "hotline",
                    "category": category,
                    "description": description,
                    "location": {"address": f"{grid.road}{grid.num_lo}号"},
                    "citizen": {"name": "张*", "phone": "138****5678"},
                    "created_at": at.isoformat(),
                },
            )
        ]
        if i % len(CATEGORIES) < 3 and i % 2:  # the three merging categories come first in CATEGORIES
            merged = {"case_id": f"C-{i // 2}", "merged_into": f"T{seed}-{i - 1:07d}", "category": category}
            steps.append((types.TICKET_MERGED, status.DISPATCHED, {**merged, **assignment, "location": location}))
        else:
            dispatched = {
                **assignment,
                "category": category,
                "urgency": "normal",
                "deadlines": {"accept_by": accept.isoformat(), "resolve_by": resolve.isoformat()},
                "reported_at": at.isoformat(),
                "policy": {"accept_days": 1, "resolve_days": 5},
                "location": location,
                "why": {"keywords": ["垃圾", "清运"], "confidence": 0.93, "margin": 0.6},
            }
            steps.append((types.TICKET_DISPATCHED, status.DISPATCHED, dispatched))
        deadlines = {"accept": accept.isoformat(), "resolve": resolve.isoformat()}
        met = {"late": False, **assignment}
        steps += [
            (types.SLA_DEADLINES_SET, None, {"deadlines": deadlines, **assignment}),
            (types.TICKET_ACCEPTED, status.ACCEPTED, {**assignment, "note": "已受理"}),
            (types.SLA_DEADLINE_MET, None, {"kind": "accept", "due_at": accept.isoformat(), **met}),
            (types.TICKET_PROGRESS, status.ACCEPTED, {**assignment, "note": "已派人到现场"}),
            (types.TICKET_RESOLVED, status.RESOLVED, {**assignment, "note": "已处理完毕"}),
            (types.SLA_DEADLINE_MET, None, {"kind": "resolve", "due_at": resolve.isoformat(), **met}),
            (
                types.CALLBACK_OPENED,
                None,
                {"callback_id": i, **assignment, "district": DISTRICT, "street": street, "category": category},
            ),
            (
                types.TICKET_CLOSED,
                status.CLOSED,
                {"callback_id": i, **assignment, "solved": True, "satisfaction": "satisfied"},
            ),
        ]
        for n, (type_, state, detail) in enumerate(steps):
            event = stand_ins.lifecycle(
                "/bench", type_, ticket, state, detail, event_id=f"{ticket}-{n}", time=at + timedelta(seconds=n)
            )
            out.append((ticket.encode(), event.to_bytes()))
    return out


async def lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: list[str]) -> int:
    committed = await admin.list_consumer_group_offsets(group)
    partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
    ends = await consumer.end_offsets(partitions)
    return sum(end - max(committed[tp].offset, 0) if tp in committed else end for tp, end in ends.items())


async def measure(prefix: str, port: int, pid: int) -> tuple[float, float, float]:
    """CPU seconds of the worker while it takes in the load, its wall time, and its idle CPU per second."""
    group = f"{prefix}cityloop.feedback.signals"
    topics = [full_name(TICKET_LIFECYCLE.name, prefix), f"{group}-sightings"]
    events = lifecycle(TICKETS, datetime.now(UTC) - timedelta(hours=1))
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    reader = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=20)
    await admin.start()
    await reader.start()
    await producer.start()
    try:
        idle_from, idle_start = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(10)
        idle = (cpu_seconds(pid) - idle_from) / (time.monotonic() - idle_start)
        cpu_from, started = cpu_seconds(pid), time.monotonic()
        per_second = RATE * len(events) / TICKETS
        for n, (key, value) in enumerate(events):
            if n % 5 == 0 and (ahead := started + n / per_second - time.monotonic()) > 0:
                await asyncio.sleep(ahead)
            await producer.send(topics[0], key=key, value=value)
        await producer.flush()
        async with asyncio.timeout(600):
            while True:
                if await lag(admin, reader, group, topics) == 0:
                    break
                await asyncio.sleep(0.5)
        await asyncio.sleep(2.5)  # the last snapshots and changelog records
        return cpu_seconds(pid) - cpu_from, time.monotonic() - started, idle
    finally:
        await producer.stop()
        await reader.stop()
        await admin.close()


async def main() -> None:
    prefix = f"bench-signals-{uuid.uuid4().hex[:8]}."
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cityloop-bench-signals-") as tmp:
        env = {
            **os.environ,
            "CITYLOOP_TOPIC_PREFIX": prefix,
            "CITYLOOP_SIGNALS_HTTP_PORT": str(port),
            "CITYLOOP_SIGNALS_DATA_DIR": tmp,
        }
        with (Path(tmp) / "worker.log").open("wb") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cityloop.feedback.signals", env=env, stdout=log, stderr=log, cwd=tmp
            )
            try:
                async with asyncio.timeout(400), httpx.AsyncClient() as client:
                    while True:
                        assert worker.returncode is None, "the worker exited"
                        try:
                            if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.3)
                cpu, wall, idle = await measure(prefix, port, worker.pid)
            finally:
                if worker.returncode is None:
                    worker.terminate()
                    try:
                        await asyncio.wait_for(worker.wait(), 30)
                    except TimeoutError:
                        worker.kill()
                        await worker.wait()
                await delete_topics_with_prefix(KAFKA, prefix)
    print(f"  {TICKETS} tickets at {RATE:g}/s: {cpu:.2f} CPU-s in {wall:.1f} s (idle {1000 * idle:.1f} ms/s)")
    figures.record(
        f"worker CPU per ticket at {RATE:g} tickets/s (10 lifecycle events each)",
        1000 * cpu / TICKETS,
        "ms",
        better="lower",
        note=f"{TICKETS} tickets; idle {1000 * idle:.1f} ms CPU per s; net of idle "
        f"{1000 * (cpu - idle * wall) / TICKETS:.2f} ms",
    )
