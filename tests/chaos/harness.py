"""One chaos run: private infrastructure, the stack, load, faults at random moments, a drain, then the
invariants over everything stored and published, and the report."""

import asyncio
import logging
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.chaos import faults
from tests.chaos.infra import PrivateInfra
from tests.chaos.invariants import Result, Sent, check_all
from tests.chaos.load import CallbackDesk, DeptResponder, TicketDriver
from tests.chaos.observe import SCHEMAS, observe
from tests.chaos.report import Report
from tests.chaos.services import Stack

#: Seconds between the progress lines a run prints while it loads and drains.
PROGRESS_EVERY = 60.0


@dataclass
class Options:
    home: Path
    seed: int
    load_seconds: float
    rate: float  # tickets per second asked of the driver
    rounds: int  # of every fault type
    kill_each: bool = True  # kill -9 every process in a round (else one replica per service)
    accept_delay: tuple[float, float] = (0.5, 25.0)
    #: A drain step gives up when nothing has moved for this long (``moved``); it may take far longer in all.
    drain_stall: float = 300.0
    ports: dict[str, int] = field(default_factory=lambda: {"kafka": 29092, "controller": 29093, "pg": 56500})


async def group_lags(bootstrap: str, prefix: str, *, ignore: str | None = None) -> dict[str, int]:
    """Records not yet consumed by each of CityLoop's consumer groups (but those of service ``ignore``),
    over every partition they know."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(f"{prefix}cityloop.")]
        if ignore is not None:
            groups = [g for g in groups if not g.startswith(f"{prefix}cityloop.{ignore}.")]
        lags: dict[str, int] = {}
        for group in sorted(groups):
            offsets = await admin.list_consumer_group_offsets(group)
            committed = {tp: meta.offset for tp, meta in offsets.items()}
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            lags[group] = sum(max(0, ends[tp] - max(off, 0)) for tp, off in committed.items())
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def backlog(dsn: str, tickets: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        out = {
            schema: int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"))
            for schema in SCHEMAS
        }
        out["received"] = int(
            await conn.fetchval(
                "SELECT count(*) FROM intake.tickets WHERE status = 'received' AND id = ANY($1)", tickets
            )
        )
        return out
    finally:
        await conn.close()


async def until_settled(
    stack: Stack, tickets: list[str], *, stall_seconds: float, what: str, ignore: str | None = None
) -> str | None:
    """Until every outbox is published, every consumer group caught up and no ticket waits for routing.
    Gives up only when nothing has moved for ``stall_seconds``: a long load at the machine's limit leaves a
    backlog that takes many minutes to work off, and only one that stopped moving is a hang. Moving means some
    count reached a new low: the sum can rise while work is done (each ticket router routes adds events to
    every group behind it)."""
    infra = stack.infra
    last: object = None
    lows: dict[str, int] = {}
    moved_at = reported_at = time.monotonic()
    while time.monotonic() - moved_at < stall_seconds:
        try:
            left: dict[str, int] = await backlog(infra.dsn, tickets)
            # Each group behind by name: a note that only said "lag" could not tell which one hung.
            lags = await group_lags(infra.bootstrap, stack.topic_prefix, ignore=ignore)
            left |= {f"lag {group}": n for group, n in lags.items() if n}
        except (OSError, asyncpg.PostgresError) as exc:
            last = exc
            await asyncio.sleep(1.0)
            continue
        if not any(left.values()):
            return None
        last = left
        total = sum(left.values())
        now = time.monotonic()
        if moved(lows, left):
            moved_at = now
        if now - reported_at >= PROGRESS_EVERY:
            reported_at = now
            print(f"chaos: draining ({what}): {total} left {_nonzero(left)}", flush=True)
        # Counting a large backlog (every outbox, every group's offsets) every second would load the stack it
        # waits for.
        await asyncio.sleep(1.0 if total < 1_000 else 5.0)
    note = f"{what}: not settled, nothing moved for {stall_seconds:.0f}s: {last}"
    print(f"chaos: {note}", flush=True)
    return note


def moved(lows: dict[str, int], left: dict[str, int]) -> bool:
    """Whether some count in ``left`` is below its lowest so far in ``lows`` (updated in place). A group that
    caught up drops out of ``left``: it is at zero, and once at zero a count cannot move again, so counts that
    come and go cannot hide one that hangs. A count seen for the first time has not moved."""
    now = {key: left.get(key, 0) for key in lows.keys() | left.keys()}
    went_down = any(n < lows[key] for key, n in now.items() if key in lows)
    lows.update({key: min(n, lows.get(key, n)) for key, n in now.items()})
    return went_down


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def start_relay(stack: Stack, service: str) -> subprocess.Popen[bytes]:
    """The service's outbox relay alone (common/relay_process.py), without its consumers and timers."""
    settings = f"cityloop.{service}.settings.{service.capitalize()}Settings"
    with (stack.logs / f"{service}-relay.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "cityloop.common.relay_process", settings],
            env=stack.replicas_of(service)[0].env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Load:
    driver: TicketDriver
    responder: DeptResponder
    desk: CallbackDesk
    injector: faults.Injector
    stops: dict[str, asyncio.Event] = field(default_factory=dict)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self) -> None:
        for name, work in (("driver", self.driver.run), ("responder", self.responder.run), ("desk", self.desk.run)):
            self.stops[name] = asyncio.Event()
            self.tasks[name] = asyncio.create_task(work(self.stops[name]))
        self.stops["faults"] = asyncio.Event()
        self.tasks["faults"] = asyncio.create_task(self.injector.run(self.stops["faults"]))

    async def stop(self, name: str) -> None:
        self.stops[name].set()
        await self.tasks[name]


async def report_progress(stack: Stack, load: Load, seconds: float) -> None:
    """Waits out the load window, printing every PROGRESS_EVERY what was sent and what waits behind it, so a
    long run's log shows whether the loop keeps up (and where it fell behind) before the report comes."""
    started = time.monotonic()
    before = 0
    while (elapsed := time.monotonic() - started) < seconds:
        await asyncio.sleep(min(PROGRESS_EVERY, seconds - elapsed))
        accepted = len(load.driver.load.accepted)
        try:
            waiting = _nonzero(await backlog(stack.infra.dsn, list(load.driver.load.accepted)))
        except (OSError, asyncpg.PostgresError) as exc:
            waiting = {type(exc).__name__: 1}
        print(
            f"chaos: t={time.monotonic() - started:6.0f}s accepted {accepted} (+{accepted - before}),"
            f" answers sent {len(load.responder.load.sent)} ({load.responder.pending} scheduled),"
            f" callbacks {len(load.desk.load.recorded)}, faults {len(load.injector.done)}, waiting {waiting}",
            flush=True,
        )
        before = accepted


async def drain(stack: Stack, load: Load, options: Options, notes: list[str | None]) -> float:
    """Everything up again, the departments answer what they got, callbacks are recorded; then sla stops
    (its clocks fire no more) and a lone relay flushes its outbox. Returns when sla stopped (epoch)."""
    for process in stack.processes.values():
        if process.paused:
            process.resume()
    await stack.wait_ready(seconds=options.drain_stall)
    tickets = list(load.driver.load.accepted)
    notes.append(await until_settled(stack, tickets, stall_seconds=options.drain_stall, what="routing"))
    await load.stop("responder")
    notes.append(await until_settled(stack, tickets, stall_seconds=options.drain_stall, what="answers"))
    await load.desk.round()
    notes.append(await until_settled(stack, tickets, stall_seconds=options.drain_stall, what="callbacks"))
    await load.stop("desk")
    frozen_at = time.time()
    for process in stack.replicas_of("sla"):
        process.held_down = True
        process.stop()
    relay = start_relay(stack, "sla")
    try:
        notes.append(
            await until_settled(stack, tickets, stall_seconds=options.drain_stall, what="sla stopped", ignore="sla")
        )
    finally:
        relay.terminate()
        relay.wait()
    return frozen_at


async def run(options: Options) -> Report:
    # The harness's own clients see every broker restart: their reconnect chatter is expected, not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    rng = random.Random(options.seed)
    print(f"chaos: seed {options.seed}, {options.load_seconds:.0f}s of load at {options.rate}/s", flush=True)
    infra = PrivateInfra.create(
        options.home,
        kafka_port=options.ports["kafka"],
        controller_port=options.ports["controller"],
        pg_port=options.ports["pg"],
    )
    started = time.monotonic()
    await infra.start()
    stack = Stack(infra, options.home / "logs")
    stop_supervisor = asyncio.Event()
    supervisor = asyncio.create_task(stack.supervise(stop_supervisor))
    try:
        stack.launch()
        await stack.wait_ready(seconds=300)
        ready_at = time.monotonic()
        print(f"chaos: infra and {len(stack.processes)} processes ready in {ready_at - started:.0f}s", flush=True)
        plan = faults.plan(
            options.seed,
            list(stack.processes),
            window=options.load_seconds,
            rounds=options.rounds,
            kill_each=options.kill_each,
        )
        load = Load(
            driver=TicketDriver(stack.gateway, options.rate, random.Random(rng.random())),
            responder=DeptResponder(
                infra.bootstrap, stack.topic_prefix, random.Random(rng.random()), accept_delay=options.accept_delay
            ),
            desk=CallbackDesk(stack.gateway),
            injector=faults.Injector(stack, plan, random.Random(rng.random())),
        )
        load.start()
        await report_progress(stack, load, options.load_seconds)
        await load.tasks["faults"]  # the last fault may end after the window: the load goes on until it did
        await load.stop("driver")
        load_ended = time.monotonic()
        print(
            f"chaos: load stopped after {load_ended - ready_at:.0f}s: {len(load.driver.load.accepted)} tickets",
            flush=True,
        )
        notes: list[str | None] = []
        frozen_at = await drain(stack, load, options, notes)
        drained = time.monotonic()
        grace = max(15.0, time.time() - frozen_at + 15.0)
        seen = await observe(infra.dsn, infra.bootstrap, stack.topic_prefix, grace_seconds=grace)
        seen.group_lag = await group_lags(infra.bootstrap, stack.topic_prefix, ignore="sla")
        sent = Sent(
            tickets=load.driver.load.accepted,
            ambiguous=load.driver.load.ambiguous,
            updates=load.responder.load.sent,
            poison=set(load.responder.load.poison),
        )
        results: list[Result] = check_all(sent, seen)
        return Report(
            seed=options.seed,
            load_seconds=load_ended - ready_at,
            drain_seconds=drained - load_ended,
            total_seconds=time.monotonic() - started,
            tickets=load.driver.load,
            departments=load.responder.load,
            callbacks=load.desk.load,
            faults=load.injector.done,
            fault_counts=load.injector.counts(),
            restarts=dict(stack.restarts),
            drain_notes=[n for n in notes if n],
            results=results,
        )
    finally:
        stop_supervisor.set()
        await supervisor
        stack.stop()
        await infra.stop()
