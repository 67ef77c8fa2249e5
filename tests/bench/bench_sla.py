"""`python -m tests.bench sla`: 2,000,000 live timers; firing lateness, rate and sla's peak memory,
each against a raw-Postgres-and-Kafka baseline doing the same work, measured in the same run.

Phases, on a database of its own (dropped at the end) and a topic prefix of its own:
1. load 2,000,000 live clocks (COPY);
2. baseline: a bare firing loop in its own process that does the same work as sla's, minus sla's rules:
   claim due rows and mark them (FOR UPDATE SKIP LOCKED), write two outbox rows per firing in the same
   transaction (the sizes of sla's trail and department-task events), and a relay in the same process
   that publishes them to Kafka (acks=all, idempotence) and marks them; a steady schedule of RATE
   timers/s, then a backlog drained at full speed;
3. the real sla service in its own process: the same steady schedule, then the same backlog; each firing
   also writes two events (trail + department task) that the outbox relay publishes to Kafka.
Lateness = when the firing transaction recorded the step minus when the step was due.
Size: CITYLOOP_BENCH_SLA_TIMERS (default 2,000,000; BENCH_SCALE=small: 100,000).
"""

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaProducer

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import Conn, create_pool
from cityloop.common.topics import all_topics, delete_topics_with_prefix, dept_tasks, ensure_topics
from cityloop.sla import queries
from cityloop.sla.app import MIGRATIONS
from tests.bench.figures import note, record
from tests.databases import scratch_database
from tests.ports import free_port

LIVE = int(os.environ.get("CITYLOOP_BENCH_SLA_TIMERS", "2000000"))
RATE = 2_000  # timers falling due per second in the steady phases: the target rate
STEADY_SECONDS = 30 if LIVE >= 1_000_000 else 10
BACKLOG = 60_000 if LIVE >= 1_000_000 else 20_000
DEPT = "bench-dept"
KAFKA = os.environ.get("CITYLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
GROUPS = ("base_steady", "base_backlog", "sla_steady", "sla_backlog")


def _clock(ticket_id: str, far: datetime) -> queries.NewClock:
    return queries.NewClock(
        ticket_id=ticket_id,
        assignment_id=f"A-{ticket_id}",
        dept_code=DEPT,
        category="roads.pothole",
        urgency="normal",
        mode="peacetime",
        command_unit=None,
        supervisors=["bench-district", "bench-city"],
        kind="resolve",
        opened_by=None,
        started_at=far - timedelta(days=5),
        warn_at=far - timedelta(days=1),
        due_at=far,
        latest_due_at=None,
        estimated=False,
        warn_ratio=0.8,
        escalate_days=1,
        escalate_seconds=None,
        step=0,
        next_fire_at=far - timedelta(days=1),
    )


async def load(conn: Conn, sizes: dict[str, int]) -> dict[str, tuple[int, int]]:
    """COPY every clock in; the groups used later get contiguous ids. Returns group -> (first, last id)."""
    now = datetime.now(UTC)
    spans: dict[str, tuple[int, int]] = {}
    chunk = 100_000
    for group, size in sizes.items():
        first = int(await conn.fetchval("SELECT coalesce(max(id), 0) + 1 FROM clocks"))
        for start in range(0, size, chunk):
            # Spread far in the future (2-7 days): live, never due during the run.
            clocks = [
                _clock(f"{group}-{i}", now + timedelta(days=3, seconds=(i * 7919) % (5 * 86400)))
                for i in range(start, min(size, start + chunk))
            ]
            await queries.copy_clocks(conn, clocks)
        last = int(await conn.fetchval("SELECT max(id) FROM clocks"))
        spans[group] = (first, last)
    await conn.execute("ANALYZE clocks")
    return spans


async def schedule(conn: Conn, span: tuple[int, int], start: datetime, rate: float | None) -> None:
    """Make a group fall due: its breach step at ``start`` + n/rate (all at ``start`` when rate is None)."""
    await conn.execute(
        "UPDATE clocks SET step = 1, due_at = $3::timestamptz + (id - $1) * $4::float8 * interval '1 second',"
        " next_fire_at = $3::timestamptz + (id - $1) * $4::float8 * interval '1 second', fire_count = 0,"
        " fired_at = NULL"
        " WHERE id BETWEEN $1 AND $2",
        span[0],
        span[1],
        start,
        0.0 if rate is None else 1.0 / rate,
    )


#: The steady phase's first timer falls due this long after its schedule is set.
STEADY_LEAD = timedelta(seconds=2)


async def steady_schedule(conn: Conn, span: tuple[int, int], who: str) -> None:
    """The steady phase's schedule; says how long writing it took, since a write that ends after its first
    timers fell due makes them late before any firer can see them (lateness counts from the due time)."""
    set_at = time.monotonic()
    await schedule(conn, span, datetime.now(UTC) + STEADY_LEAD, RATE)
    took = time.monotonic() - set_at
    print(f"  {who}: steady schedule written in {took:.2f} s (its first timer falls due {STEADY_LEAD.seconds} s after)")
    if took > STEADY_LEAD.total_seconds():
        note(f"sla: {who}'s steady schedule took {took:.1f} s to write: its first timers were due before it")


async def lateness(conn: Conn, span: tuple[int, int]) -> dict[str, float]:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired, count(*) AS total,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - fired_due_at)) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM fired_at - fired_due_at)) AS p99,"
        " max(extract(epoch FROM fired_at - fired_due_at)) AS max,"
        " extract(epoch FROM max(fired_at) - min(fired_at)) AS spread,"
        " count(*) FILTER (WHERE fire_count > 1) AS doubled"
        " FROM clocks WHERE id BETWEEN $1 AND $2",
        *span,
    )
    assert row is not None
    fired = int(row["fired"])
    spread = float(row["spread"] or 0.0)
    return {
        "fired": fired,
        "total": int(row["total"]),
        "p50": float(row["p50"] or 0.0),
        "p99": float(row["p99"] or 0.0),
        "max": float(row["max"] or 0.0),
        "rate": fired / spread if spread > 0 else float("nan"),
        "doubled": int(row["doubled"]),
    }


async def wait_until_zero(conn: Conn, sql: str, *args: object) -> None:
    """Poll a count until it reaches zero (the caller bounds the wait with asyncio.timeout)."""
    while True:
        if await conn.fetchval(sql, *args) == 0:
            return
        await asyncio.sleep(0.2)


async def wait_fired(conn: Conn, span: tuple[int, int], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        await wait_until_zero(
            conn, "SELECT count(*) FROM clocks WHERE id BETWEEN $1 AND $2 AND fired_at IS NULL", span[0], span[1]
        )


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


# --- the baseline: a bare firing loop, run as its own process -----------------------------------------


#: The baseline's events: as large as sla's (a trail event and a department task, about 1 KB each).
RAW_APP = "cityloop-bench-raw-loop"
RAW_EVENT = orjson.dumps({"specversion": "1.0", "type": "bench.raw", "data": {"pad": "x" * 900}})


async def raw_loop(dsn: str, seconds: float, bootstrap: str, prefix: str) -> None:
    """Claim due rows, mark them fired and write two outbox rows each in one transaction; a relay publishes
    the rows to Kafka and marks them: sla's work without sla's rules."""
    relay_conn = await asyncpg.connect(dsn, server_settings={"search_path": "sla"})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    # Connected last, by name: the bench schedules the timers once it sees this connection (RAW_READY).
    fire_conn = await asyncpg.connect(dsn, server_settings={"search_path": "sla", "application_name": RAW_APP})
    topics = [f"{prefix}ticket.lifecycle", f"{prefix}{dept_tasks(DEPT).name}"]
    stop = time.monotonic() + seconds

    async def fire() -> None:
        while time.monotonic() < stop:
            fired = await fire_conn.fetchval(
                "WITH due AS (SELECT id FROM clocks WHERE next_fire_at <= now()"
                "  ORDER BY next_fire_at LIMIT 2000 FOR UPDATE SKIP LOCKED),"
                " fired AS (UPDATE clocks c SET fired_due_at = c.next_fire_at, fired_at = clock_timestamp(),"
                "  step = 2, fire_count = c.fire_count + 1, next_fire_at = c.next_fire_at + interval '1 day'"
                "  FROM due WHERE c.id = due.id RETURNING c.ticket_id),"
                " added AS (INSERT INTO raw_outbox (topic, key, event_id, payload)"
                "  SELECT t.topic, f.ticket_id, gen_random_uuid()::text, $2 FROM fired f"
                "  CROSS JOIN unnest($1::text[]) AS t(topic) RETURNING 1)"
                " SELECT count(*) FROM fired",
                topics,
                RAW_EVENT,
            )
            if not fired:
                await asyncio.sleep(0.02)

    async def relay() -> None:
        while time.monotonic() < stop + 30:
            async with relay_conn.transaction():
                rows = await relay_conn.fetch(
                    "SELECT id, topic, key, payload FROM raw_outbox WHERE published_at IS NULL ORDER BY id LIMIT 500"
                )
                if rows:
                    sent = [await producer.send(r["topic"], r["payload"], key=r["key"].encode()) for r in rows]
                    await asyncio.gather(*sent)
                    await relay_conn.execute(
                        "UPDATE raw_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                        [r["id"] for r in rows],
                    )
            if not rows:
                await asyncio.sleep(0.02)

    try:
        await asyncio.gather(fire(), relay())
    finally:
        await producer.stop()
        await fire_conn.close()
        await relay_conn.close()


async def run_process(args: list[str], env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(sys.executable, *args, env=os.environ | env, stdout=out, stderr=out)


async def watch_memory(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            peak[0] = max(peak[0], rss_kib(pid)[1])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def measure_baseline(
    conn: Conn, dsn: str, prefix: str, spans: dict[str, tuple[int, int]], log: Path
) -> dict[str, Any]:
    argv = ["-m", "tests.bench.bench_sla", "--raw-loop", dsn, str(STEADY_SECONDS + 600), KAFKA, prefix]
    proc = await run_process(argv, {}, log)
    # As for sla (its /readyz): the schedule starts once the loop runs, so its start-up is not lateness.
    async with asyncio.timeout(120):
        while True:
            if await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", RAW_APP):
                break
            await asyncio.sleep(0.2)
    await steady_schedule(conn, spans["base_steady"], "baseline")
    peak = [0]
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_memory(proc.pid, peak, stop))
    try:
        await wait_fired(conn, spans["base_steady"], STEADY_SECONDS + 180)
        steady = await lateness(conn, spans["base_steady"])
        await schedule(conn, spans["base_backlog"], datetime.now(UTC), None)
        await wait_fired(conn, spans["base_backlog"], 300)
        backlog = await lateness(conn, spans["base_backlog"])
        relay_started = time.monotonic()
        async with asyncio.timeout(300):
            await wait_until_zero(conn, "SELECT count(*) FROM raw_outbox WHERE published_at IS NULL")
        relay_tail = time.monotonic() - relay_started
        pickup = await publish_pickup(conn, "raw_outbox", spans["base_steady"])
        published = int(await conn.fetchval("SELECT count(*) FROM raw_outbox"))
    finally:
        stop.set()
        await watcher
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    return {
        "steady": steady,
        "backlog": backlog,
        "peak_kib": peak[0],
        "relay_tail_s": relay_tail,
        "published": published,
        "publish_p50": pickup[0],
        "publish_p99": pickup[1],
    }


async def publish_pickup(conn: Conn, table: str, span: tuple[int, int]) -> tuple[float, float]:
    """p50 and p99 of due -> published for the events of the clocks in ``span``."""
    row = await conn.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP"
        "  (ORDER BY extract(epoch FROM o.published_at - c.fired_due_at)) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP"
        "  (ORDER BY extract(epoch FROM o.published_at - c.fired_due_at)) AS p99"
        f" FROM {table} o JOIN clocks c ON c.ticket_id = o.key"
        " WHERE c.id BETWEEN $1 AND $2",
        *span,
    )
    assert row is not None
    return float(row["p50"] or 0.0), float(row["p99"] or 0.0)


async def measure_sla(
    conn: Conn, dsn: str, prefix: str, spans: dict[str, tuple[int, int]], log: Path
) -> dict[str, Any]:
    port = free_port()
    env = {
        "CITYLOOP_DATABASE_URL": dsn,
        "CITYLOOP_TOPIC_PREFIX": prefix,
        "CITYLOOP_KAFKA_BOOTSTRAP": KAFKA,
        "CITYLOOP_SLA_HTTP_PORT": str(port),
        "CITYLOOP_LOG_LEVEL": "WARNING",
        "CITYLOOP_ENVIRONMENT": "test",
    }
    proc = await run_process(["-m", "cityloop.sla"], env, log)
    peak = [0]
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_memory(proc.pid, peak, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(60):
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            ready_kib = rss_kib(proc.pid)[0]
            await steady_schedule(conn, spans["sla_steady"], "sla")
            await wait_fired(conn, spans["sla_steady"], STEADY_SECONDS + 180)
            steady = await lateness(conn, spans["sla_steady"])
            backlog_start = time.monotonic()
            await schedule(conn, spans["sla_backlog"], datetime.now(UTC), None)
            await wait_fired(conn, spans["sla_backlog"], 300)
            backlog = await lateness(conn, spans["sla_backlog"])
            relay_started = time.monotonic()
            async with asyncio.timeout(300):
                await wait_until_zero(conn, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
            relay_tail = time.monotonic() - relay_started
            published = int(await conn.fetchval("SELECT count(*) FROM outbox"))
            pickup = await publish_pickup(conn, "outbox", spans["sla_steady"])
            metrics = (await http.get("/metrics")).text
        # One line per {dept_type, district}: the total is their sum.
        gauge = "cityloop_sla_live_timers"
        live = sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(gauge))
    finally:
        stop.set()
        await watcher
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    return {
        "steady": steady,
        "backlog": backlog,
        "backlog_wall_s": time.monotonic() - backlog_start,
        "relay_tail_s": relay_tail,
        "published": published,
        "publish_p50": pickup[0],
        "publish_p99": pickup[1],
        "ready_kib": ready_kib,
        "peak_kib": peak[0],
        "live_gauge": live,
    }


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(loaded_s: float, base: dict[str, Any], sla: dict[str, Any]) -> None:
    bs, ss, bb, sb = base["steady"], sla["steady"], base["backlog"], sla["backlog"]
    lines = [
        f"live timers: {LIVE:,} loaded in {loaded_s:.0f} s (sla's gauge read {sla['live_gauge']:,.0f})",
        f"steady phase: {RATE:,} timers/s falling due for {STEADY_SECONDS} s ({ss['total']:,} timers)",
        "                         sla service       raw baseline (same work)  ratio",
        f"  lateness p50           {ss['p50'] * 1000:8.1f} ms       {bs['p50'] * 1000:8.1f} ms"
        f"             {_ratio(ss['p50'], bs['p50'])}",
        f"  lateness p99           {ss['p99'] * 1000:8.1f} ms       {bs['p99'] * 1000:8.1f} ms"
        f"             {_ratio(ss['p99'], bs['p99'])}",
        f"  lateness max           {ss['max'] * 1000:8.1f} ms       {bs['max'] * 1000:8.1f} ms"
        f"             {_ratio(ss['max'], bs['max'])}",
        f"  firing rate            {ss['rate']:8,.0f} /s       {bs['rate']:8,.0f} /s",
        f"  fired twice            {ss['doubled']:8d}          {bs['doubled']:8d}",
        f"backlog phase: {BACKLOG:,} timers due at once, drained at full speed",
        f"  drain rate             {sb['rate']:8,.0f} /s       {bb['rate']:8,.0f} /s"
        f"             {_ratio(sb['rate'], bb['rate'])}",
        f"  last one fired after   {sb['max']:8.2f} s        {bb['max']:8.2f} s",
        f"outbox relay: {sla['published']:,} events published; steady-phase due->relay pickup"
        f" p50 {sla['publish_p50'] * 1000:.0f} ms, p99 {sla['publish_p99'] * 1000:.0f} ms;"
        f" backlog published {sla['relay_tail_s']:.1f} s after the last firing",
        f"baseline relay: {base['published']:,} events published; steady-phase due->published"
        f" p50 {base['publish_p50'] * 1000:.0f} ms, p99 {base['publish_p99'] * 1000:.0f} ms;"
        f" backlog published {base['relay_tail_s']:.1f} s after the last firing",
        f"peak memory (VmHWM): sla {sla['peak_kib'] / 1024:.0f} MiB (at ready {sla['ready_kib'] / 1024:.0f} MiB),"
        f" baseline loop {base['peak_kib'] / 1024:.0f} MiB, ratio {_ratio(sla['peak_kib'], base['peak_kib'])}",
    ]
    load1, load5, _ = os.getloadavg()
    lines.append(f"machine: {os.cpu_count()} cores, load average {load1:.1f} (1 min) {load5:.1f} (5 min) at the end")
    print("\n".join(lines), flush=True)
    print("json:", orjson.dumps({"base": base, "sla": sla}).decode(), flush=True)
    same = "raw loop + relay, same work"
    live = f"{LIVE:,} live timers, {RATE:,}/s due"
    for name, key in (("p50", "p50"), ("p99", "p99"), ("max", "max")):
        record(
            f"timer lateness {name}, steady",
            ss[key] * 1000,
            "ms",
            baseline=bs[key] * 1000,
            baseline_name=same,
            better="lower",
            target="<= 1 s" if name == "p99" else "",
            note=live,
        )
    record("firing rate, steady", ss["rate"], "/s", baseline=bs["rate"], baseline_name=same, target=">= 2000/s")
    backlog = f"{BACKLOG:,} due at once"
    record("backlog drain rate", sb["rate"], "/s", baseline=bb["rate"], baseline_name=same, note=backlog)
    record(
        "due -> published p99, steady",
        sla["publish_p99"] * 1000,
        "ms",
        baseline=base["publish_p99"] * 1000,
        baseline_name=same,
        better="lower",
    )
    record(
        "sla peak RSS (VmHWM)",
        sla["peak_kib"] / 1024,
        "MiB",
        baseline=base["peak_kib"] / 1024,
        baseline_name="raw loop process",
        better="lower",
        target="<= 200 MB",
    )


async def main() -> None:
    run = uuid.uuid4().hex[:8]
    database = f"cityloop_bench_{run}"
    prefix = f"bench-{run}."
    log = Path(f"/tmp/cityloop-bench-sla-{run}.log")
    try:
        async with scratch_database(database) as dsn:
            await ensure_topics(KAFKA, prefix, [*all_topics(), dept_tasks(DEPT)])
            pool = await create_pool(dsn, "sla", min_size=1, max_size=2)
            await migrate(pool, "sla", MIGRATIONS)
            await pool.close()
            conn = await asyncpg.connect(dsn, server_settings={"search_path": "sla"})
            # The baseline's own outbox, shaped like sla's (so sla's relay never sees the baseline's rows).
            await conn.execute("CREATE TABLE raw_outbox (LIKE outbox INCLUDING ALL)")
            try:
                sizes = {"base_steady": RATE * STEADY_SECONDS, "base_backlog": BACKLOG}
                sizes |= {"sla_steady": RATE * STEADY_SECONDS, "sla_backlog": BACKLOG}
                sizes = {"live": LIVE - sum(sizes.values()), **sizes}
                print(f"loading {LIVE:,} timers ...", flush=True)
                started = time.monotonic()
                spans = await load(conn, sizes)
                loaded_s = time.monotonic() - started
                print(f"loaded in {loaded_s:.0f} s; measuring the raw-Postgres baseline ...", flush=True)
                base = await measure_baseline(conn, dsn, prefix, spans, log)
                print("measuring the sla service ...", flush=True)
                sla = await measure_sla(conn, dsn, prefix, spans, log)
            finally:
                await conn.close()
            report(loaded_s, base, sla)
            print(f"(process logs: {log})", flush=True)
    finally:
        await delete_topics_with_prefix(KAFKA, prefix)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--raw-loop":
        asyncio.run(raw_loop(sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]))
    else:
        asyncio.run(main())
