"""The sla service, a real separate process, is killed (SIGKILL) while timers are due; after a restart
every due timer has fired exactly once in effect: once in the clock store, one event id on the broker."""

import asyncio
import os
import signal
import sys
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import PgPool, create_pool
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.sla import queries
from cityloop.sla.app import MIGRATIONS
from tests.conftest import RUN_ID, TOPIC_PREFIX
from tests.databases import scratch_database
from tests.integration.sla.conftest import TopicReader
from tests.ports import free_port

TIMERS = 1500  # each fires twice: warning, then breach one second later
PREFIX = f"{TOPIC_PREFIX}kill."


@pytest.fixture
async def kill_db(kafka: str) -> AsyncIterator[tuple[str, PgPool]]:
    async with scratch_database(f"cityloop_test_{RUN_ID}_kill") as dsn:
        pool = await create_pool(dsn, "sla", min_size=1, max_size=2)
        await migrate(pool, "sla", MIGRATIONS)
        try:
            yield dsn, pool
        finally:
            await pool.close()


async def _start_sla(dsn: str, log: Path) -> asyncio.subprocess.Process:
    env = os.environ | {
        "CITYLOOP_DATABASE_URL": dsn,
        "CITYLOOP_TOPIC_PREFIX": PREFIX,
        "CITYLOOP_SLA_HTTP_PORT": str(free_port()),
        # Small rounds, so that the kill lands between committed rounds and inside one.
        "CITYLOOP_SLA_FIRE_BATCH": "50",
        "CITYLOOP_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cityloop.sla", env=env, stdout=out, stderr=out
        )


async def _until(pool: PgPool, sql: str, check: object, seconds: float, *args: object) -> int:
    async with asyncio.timeout(seconds):
        while True:
            value = int(await pool.fetchval(sql, *args))
            if callable(check) and check(value):
                return value
            await asyncio.sleep(0.05)


def _timers(run: str, start: datetime) -> list[queries.NewClock]:
    window = 5.0  # warnings spread over five seconds, breaches one second after each
    clocks = []
    for i in range(TIMERS):
        warn = start + timedelta(seconds=window * i / TIMERS)
        clocks.append(
            queries.NewClock(
                ticket_id=f"T-kill-{run}-{i}",
                assignment_id=None,
                dept_code=None,
                category="roads.pothole",
                urgency="normal",
                mode="peacetime",
                command_unit=None,
                supervisors=[],
                kind="accept",
                opened_by=None,
                started_at=warn - timedelta(seconds=4),
                warn_at=warn,
                due_at=warn + timedelta(seconds=1),
                latest_due_at=None,
                estimated=False,
                warn_ratio=0.8,
                escalate_days=None,
                escalate_seconds=3600.0,  # the notice after the breach is far outside the test
                step=0,
                next_fire_at=warn,
            )
        )
    return clocks


async def test_sigkill_while_timers_are_due_fires_each_exactly_once(
    kill_db: tuple[str, PgPool], kafka: str, tmp_path: Path
) -> None:
    dsn, pool = kill_db
    run = uuid.uuid4().hex[:6]
    log = tmp_path / "sla.log"
    fired_sql = "SELECT coalesce(sum(fire_count), 0) FROM clocks"
    async with pool.acquire() as conn:
        await queries.copy_clocks(conn, _timers(run, datetime.now(UTC) + timedelta(seconds=3)))

    first = await _start_sla(dsn, log)
    try:
        before_kill = await _until(pool, fired_sql, lambda n: n >= 400, 60)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert first.returncode == -signal.SIGKILL
    # While it is down, more timers fall due.
    await asyncio.sleep(1.0)
    fired_at_kill = int(await pool.fetchval(fired_sql))
    due_while_down = int(await pool.fetchval("SELECT count(*) FROM clocks WHERE next_fire_at <= now()"))
    assert before_kill <= fired_at_kill < 2 * TIMERS
    assert due_while_down > 0

    second = await _start_sla(dsn, log)
    try:
        await _until(pool, "SELECT count(*) FROM clocks WHERE step < 2", lambda n: n == 0, 60)
        await _until(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL", lambda n: n == 0, 60)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()

    # In the store: every clock fired its warning and its breach, each exactly once.
    fired = await pool.fetch("SELECT fire_count, fired_step, count(*) AS n FROM clocks GROUP BY 1, 2")
    assert [(r["fire_count"], r["fired_step"], r["n"]) for r in fired] == [(2, 1, TIMERS)], log.read_text()[-2000:]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2 * TIMERS

    # On the broker: each (clock, step) arrived under exactly one event id (a republished copy after the
    # kill keeps its id, so consumers' inboxes make it a no-op).
    reader = TopicReader(kafka, f"{PREFIX}{TICKET_LIFECYCLE.name}")
    await reader.start()
    ids: dict[tuple[object, object], set[str]] = defaultdict(set)
    try:
        async with asyncio.timeout(60):
            while len(ids) < 2 * TIMERS:
                ids.clear()
                for event in list(reader.events):
                    if str(event.get("subject", "")).startswith(f"T-kill-{run}-"):
                        detail = event["data"]["detail"]
                        ids[(detail["clock_id"], detail["step"])].add(event["id"])
                await asyncio.sleep(0.2)
    finally:
        await reader.stop()
    assert len(ids) == 2 * TIMERS
    assert {len(v) for v in ids.values()} == {1}
