# Usage: python scripts/infra/check_clients.py [--bootstrap 127.0.0.1:9092]  (re-run on a Kafka/client bump)
"""Check that the pinned Python clients work against a running Kafka broker.

aiokafka: AIOKafkaAdminClient creates topics (one compacted); an idempotent producer with acks='all'
sends; a consumer group (enable_auto_commit=False, isolation_level='read_committed') reads, commits and
resumes from its commit; keyed records and a tombstone round-trip through the compacted topic; a
transactional producer commits one transaction and aborts another, and read_committed sees only the
committed ones.

faust-streaming: a worker (started programmatically in a child process, memory:// store, low group
timeouts) declares its topics, sends a few messages from a task, counts them per key in an agent into
a Table with a changelog, and commits (acks) them; a second worker with the same app id must rebuild
the table from the changelog and go on counting.

Prints one PASS/FAIL line per check and a closing "N passed, N failed" line; exit status 1 if any check
failed. The topics it made (cityloop-check-<run id>-*) are deleted at the end; its empty consumer
groups expire on their own (aiokafka's admin client has no DeleteGroups).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiokafka
import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

N_MESSAGES = 12
FAUST_KEYS = ("a", "b", "c")
PHASE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Ctx:
    bootstrap: str
    prefix: str  # every topic, group and transactional id of this run starts with it

    @property
    def topic(self) -> str:
        return f"{self.prefix}-events"

    @property
    def compacted(self) -> str:
        return f"{self.prefix}-compacted"

    @property
    def txn_topic(self) -> str:
        return f"{self.prefix}-txn"

    @property
    def group(self) -> str:
        return f"{self.prefix}-group"

    @property
    def faust_app(self) -> str:
        return f"{self.prefix}-faust"


SENT: list[tuple[bytes, bytes]] = [(f"k{i % 4}".encode(), f"v{i}".encode()) for i in range(N_MESSAGES)]
FAUST_EXPECTED = {k: sum(1 for i in range(N_MESSAGES) if FAUST_KEYS[i % len(FAUST_KEYS)] == k) for k in FAUST_KEYS}


# --- helpers ----------------------------------------------------------------------------------------


@asynccontextmanager
async def admin_client(ctx: Ctx) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def idempotent_producer(ctx: Ctx, **extra: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, acks="all", enable_idempotence=True, **extra)


def consumer(ctx: Ctx, *topics: str, group_id: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=ctx.bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
    )


async def drain(c: AIOKafkaConsumer, want: int, within_s: float) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + within_s
    while len(got) < want and time.monotonic() < deadline:
        batches = await c.getmany(timeout_ms=500)
        for records in batches.values():
            got.extend(records)
    return got


async def cleanup_policy(admin: AIOKafkaAdminClient, topic: str) -> str | None:
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"cleanup.policy": None})]
    )
    configs = {entry[0]: entry[1] for resp in described for res in resp.resources for entry in res[4]}
    policy: str | None = configs.get("cleanup.policy")
    return policy


# --- aiokafka ---------------------------------------------------------------------------------------


async def check_create_topics(ctx: Ctx) -> str:
    async with admin_client(ctx) as admin:
        resp = await admin.create_topics(
            [
                NewTopic(ctx.topic, num_partitions=3, replication_factor=1),
                NewTopic(ctx.txn_topic, num_partitions=1, replication_factor=1),
                NewTopic(ctx.compacted, 1, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
        errors = [(t[0], t[1]) for t in resp.topic_errors if t[1] != 0]
        if errors:
            raise RuntimeError(f"topic errors: {errors}")
        policy = await cleanup_policy(admin, ctx.compacted)
    if policy != "compact":
        raise RuntimeError(f"cleanup.policy of {ctx.compacted} is {policy!r}")
    return f"3 topics (CreateTopics v{resp.API_VERSION}), {ctx.compacted} has cleanup.policy=compact"


async def check_produce(ctx: Ctx) -> str:
    producer = idempotent_producer(ctx)
    await producer.start()
    try:
        metas = [await producer.send_and_wait(ctx.topic, value=v, key=k) for k, v in SENT]
    finally:
        await producer.stop()
    return f"{len(metas)} records acked by all in-sync replicas, partitions {sorted({m.partition for m in metas})}"


async def check_consume_commit(ctx: Ctx) -> str:
    t0 = time.monotonic()
    tps = [TopicPartition(ctx.topic, p) for p in range(3)]
    c = consumer(ctx, ctx.topic, group_id=ctx.group)
    await c.start()
    try:
        got = await drain(c, N_MESSAGES, 30)
        if sorted((r.key, r.value) for r in got) != sorted(SENT):
            raise RuntimeError(f"received {len(got)} of {N_MESSAGES} records")
        await c.commit()
        ends = await c.end_offsets(tps)
        committed = {tp: await c.committed(tp) for tp in tps}
    finally:
        await c.stop()
    if any(committed[tp] != ends[tp] for tp in tps):
        raise RuntimeError(f"committed {committed} != end offsets {ends}")
    took = time.monotonic() - t0
    # A new member of the same group resumes at the commit: nothing is delivered again.
    c2 = consumer(ctx, ctx.topic, group_id=ctx.group)
    await c2.start()
    try:
        again = await drain(c2, 1, 4)
    finally:
        await c2.stop()
    if again:
        raise RuntimeError(f"{len(again)} records redelivered after commit")
    return f"{len(got)} records in {took:.1f}s, committed = end offsets, no redelivery on rejoin"


async def check_compacted(ctx: Ctx) -> str:
    writes: list[tuple[bytes, bytes | None]] = [(b"k1", b"v1"), (b"k2", b"v1"), (b"k1", b"v2"), (b"k2", None)]
    producer = idempotent_producer(ctx)
    await producer.start()
    try:
        for k, v in writes:
            await producer.send_and_wait(ctx.compacted, value=v, key=k)
    finally:
        await producer.stop()
    c = consumer(ctx, ctx.compacted, group_id=None)
    await c.start()
    try:
        got = [(r.key, r.value) for r in await drain(c, len(writes), 20)]
    finally:
        await c.stop()
    if got != writes:
        raise RuntimeError(f"read back {got}")
    latest: dict[bytes, bytes] = {}
    for k, v in got:
        if v is None:
            latest.pop(k, None)
        else:
            latest[k] = v
    return f"keyed records + tombstone read back in order, latest view {latest}"


async def check_transactions(ctx: Ctx) -> str:
    producer = idempotent_producer(ctx, transactional_id=f"{ctx.prefix}-txn-producer")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(ctx.txn_topic, b"committed")
        await producer.begin_transaction()
        await producer.send_and_wait(ctx.txn_topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(ctx.txn_topic, b"committed-2")
    finally:
        await producer.stop()
    c = consumer(ctx, ctx.txn_topic, group_id=None)
    await c.start()
    try:
        got = await drain(c, 2, 20)
        got += await drain(c, 1, 2)
    finally:
        await c.stop()
    values = [r.value for r in got]
    if values != [b"committed", b"committed-2"]:
        raise RuntimeError(f"read_committed saw {values}")
    return "commit + abort; read_committed sees only the committed records"


# --- faust-streaming (each worker runs in its own process: a faust Worker owns its loop and signals) --


def faust_worker(bootstrap: str, app_id: str, phase: int, out_path: str) -> None:
    app = faust.App(
        app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        autodiscover=False,
        topic_partitions=3,
        topic_replication_factor=1,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
    )
    # internal=True: faust declares (creates) the topic. Faust creates only internal topics
    # (changelogs, repartition topics, internal=True); with auto.create.topics.enable=false a plain
    # app.topic() that nobody created leaves the worker logging "Topic ... not found in cluster
    # metadata" forever.
    source = app.topic(
        f"{app_id}-in",
        key_type=str,
        value_type=None,  # the json codec gives back the int
        key_serializer="json",
        value_serializer="json",
        partitions=3,
        internal=True,
    )
    counts = app.Table("counts", default=int, partitions=3)
    seen: list[int] = []
    want = N_MESSAGES if phase == 1 else 1
    started = time.monotonic()
    finished = asyncio.Event()

    @app.agent(source)
    async def count(stream: Any) -> None:
        async for key, value in stream.items():
            counts[key] += 1
            seen.append(value)
            if len(seen) >= want:
                finished.set()

    async def send_then_stop() -> None:
        if phase == 1:
            for i in range(N_MESSAGES):
                await (await source.send(key=FAUST_KEYS[i % len(FAUST_KEYS)], value=i))
        else:
            await (await source.send(key="a", value=100))
        await asyncio.wait_for(finished.wait(), PHASE_TIMEOUT_S)
        await asyncio.sleep(1.0)  # let the last event be acked
        await app.consumer.commit()
        result = {
            "seen": sorted(seen),
            "table": {str(k): v for k, v in counts.items()},
            "seconds": round(time.monotonic() - started, 2),
        }
        await asyncio.to_thread(Path(out_path).write_text, json.dumps(result))
        os.kill(os.getpid(), signal.SIGTERM)  # graceful stop: flush producer, commit, leave the group

    app.task(send_then_stop)  # (not as a decorator: faust's is untyped)
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def run_faust_worker(ctx: Ctx, phase: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cityloop-check-") as tmp:
        out_path = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--bootstrap", ctx.bootstrap]
        cmd += ["--faust-phase", str(phase), "--faust-app", ctx.faust_app, "--faust-out", out_path]
        try:
            proc = subprocess.run(
                cmd, check=False, capture_output=True, text=True, timeout=PHASE_TIMEOUT_S + 30, cwd=tmp
            )
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            output = f"timed out after {PHASE_TIMEOUT_S + 30:.0f}s\n{err}"
        if not os.path.exists(out_path):
            lines: list[str] = []
            for line in output.splitlines():  # drop repeats that differ only in their timestamp
                if not lines or line.split("] ", 2)[-1] != lines[-1].split("] ", 2)[-1]:
                    lines.append(line)
            tail = "\n    ".join(lines[-15:])
            raise RuntimeError(f"faust worker {phase} produced no result; its output:\n    {tail}")
        data: dict[str, Any] = json.loads(Path(out_path).read_text())
        return data


async def check_faust_worker(ctx: Ctx) -> str:
    data = await asyncio.to_thread(run_faust_worker, ctx, 1)
    if data["seen"] != list(range(N_MESSAGES)):
        raise RuntimeError(f"agent saw {data['seen']}")
    if data["table"] != FAUST_EXPECTED:
        raise RuntimeError(f"table {data['table']} != {FAUST_EXPECTED}")
    async with admin_client(ctx) as admin:
        offsets = await admin.list_consumer_group_offsets(ctx.faust_app)
    acked = sum(o.offset for tp, o in offsets.items() if tp.topic == f"{ctx.faust_app}-in" and o.offset > 0)
    if acked != N_MESSAGES:
        raise RuntimeError(f"group {ctx.faust_app} committed {acked} of {N_MESSAGES} offsets")
    return f"agent got {N_MESSAGES} messages ({data['seconds']}s after start), table {data['table']}, all acked"


async def check_faust_changelog(ctx: Ctx) -> str:
    name = f"{ctx.faust_app}-counts-changelog"
    async with admin_client(ctx) as admin:
        meta = await admin.describe_topics([name])
        policy = await cleanup_policy(admin, name)
    if not meta or meta[0]["error_code"] != 0:
        raise RuntimeError(f"changelog topic {name} not found: {meta}")
    tps = [TopicPartition(name, p["partition"]) for p in meta[0]["partitions"]]
    c = consumer(ctx, group_id=None)
    await c.start()
    try:
        ends = await c.end_offsets(tps)
    finally:
        await c.stop()
    total = sum(ends.values())
    if total < N_MESSAGES:
        raise RuntimeError(f"changelog has {total} records, expected >= {N_MESSAGES}")
    return f"{name}: {len(tps)} partitions, {total} records, cleanup.policy={policy}"


async def check_faust_recovery(ctx: Ctx) -> str:
    data = await asyncio.to_thread(run_faust_worker, ctx, 2)
    want = dict(FAUST_EXPECTED)
    want["a"] += 1
    if data["table"] != want:
        raise RuntimeError(f"after restart the table is {data['table']}, expected {want} (recovered + 1)")
    return f"a new worker rebuilt the table from the changelog and counted on: {data['table']}"


# --- driver -----------------------------------------------------------------------------------------


class Runner:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.passed = 0
        self.failed = 0

    async def check(self, name: str, fn: Callable[[Ctx], Awaitable[str]]) -> bool:
        try:
            detail = await fn(self.ctx)
        except Exception as exc:
            self.failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
            if os.environ.get("CHECK_VERBOSE"):
                traceback.print_exc()
            return False
        self.passed += 1
        print(f"PASS {name}: {detail}", flush=True)
        return True


async def cleanup(ctx: Ctx) -> None:
    try:
        async with admin_client(ctx) as admin:
            mine = [t for t in await admin.list_topics() if t.startswith(ctx.prefix)]
            if mine:
                await admin.delete_topics(mine)
    except Exception as exc:
        print(f"note: cleanup of {ctx.prefix}* incomplete: {type(exc).__name__}: {exc}")


async def run_checks(bootstrap: str, skip_faust: bool) -> int:
    ctx = Ctx(bootstrap, f"cityloop-check-{int(time.time())}-{os.getpid()}")
    print(f"aiokafka {aiokafka.__version__}, faust-streaming {faust.__version__}, broker {bootstrap}", flush=True)
    r = Runner(ctx)
    try:
        if await r.check("aiokafka admin create_topics + describe_configs", check_create_topics):
            if await r.check("aiokafka idempotent producer, acks=all", check_produce):
                await r.check("aiokafka consumer group, read_committed, manual commit", check_consume_commit)
            await r.check("aiokafka compacted topic", check_compacted)
            await r.check("aiokafka transactional producer (faust exactly_once needs it)", check_transactions)
        if not skip_faust and await r.check("faust worker: agent receives + acks, Table updates", check_faust_worker):
            await r.check("faust Table changelog topic written", check_faust_changelog)
            await r.check("faust Table recovered from changelog by a new worker", check_faust_recovery)
    finally:
        await cleanup(ctx)
    print(f"{r.passed} passed, {r.failed} failed", flush=True)
    return 1 if r.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--skip-faust", action="store_true", help="aiokafka checks only")
    parser.add_argument("--faust-phase", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--faust-app", help=argparse.SUPPRESS)
    parser.add_argument("--faust-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.faust_phase:
        faust_worker(args.bootstrap, args.faust_app, args.faust_phase, args.faust_out)
        return 0
    return asyncio.run(run_checks(args.bootstrap, args.skip_faust))


if __name__ == "__main__":
    sys.exit(main())
