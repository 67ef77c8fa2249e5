"""`python -m tests.bench scores`: the 三率 query over a month of 10,000,000 tickets, per department and per
district, against the baseline of the same question answered by a plain GROUP BY over the fact rows.

On a database of its own (dropped at the end):
1. load one month of fact rows with generate_series (one lead task per ticket, 896 departments, 208
   streets in 16 districts, 2 % emergency tickets; a completed callback for 8 tickets in 10), the way
   the consumer would have left them; build the day counters from the facts;
2. check the counters against a GROUP BY over the facts (they must agree, else the figures mean nothing);
3. time the scores query as the API runs it (sum of <= 31 day rows per item, rates, ranking), per
   department and per district, and the baseline GROUP BY over the facts for the same month;
4. time the incremental path: lifecycle events applied one by one by the real handler (facts.py).

Size: CITYLOOP_BENCH_SCORES_TICKETS (default 10,000,000); a small size (e.g. 200000) runs in seconds.
"""

import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from cityloop.common.contract import types
from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.migrate import migrate
from cityloop.common.db.pool import create_pool
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.app import MIGRATIONS
from cityloop.feedback.scores import facts, reading
from cityloop.feedback.scores.models import ScoreItem
from cityloop.feedback.scores.rules import Level, Period, period_days
from tests import stand_ins
from tests.bench.figures import record
from tests.databases import scratch_database

TICKETS = int(os.environ.get("CITYLOOP_BENCH_SCORES_TICKETS", "10000000"))
DEPARTMENTS, STREETS, DISTRICTS = 896, 208, 16
MONTH = date(2026, 11, 1)
CHUNK = 1_000_000
REPEATS = 5
INCREMENTAL_TICKETS = 2_000

#: One month of facts; ticket i: street i % 208 in district (i % 208) % 16, department i % 896,
#: day (i / 896) % 30 (every department on every day), 2 % emergency; response on time 8/10, late 1/10,
#: still pending 1/10; callbacks for i % 10 < 8: solved 3/4, 满意 / 基本满意 / 不满意 / unreachable by i % 7.
TASKS = """
INSERT INTO score_tasks (assignment_id, ticket_id, dept_code, street, district, mode, day, accept_due_at, state)
SELECT 'A-' || i, 'T-' || i, 'dept-' || (i % 896), 'st-' || (i % 208), 'd-' || ((i % 208) % 16),
       CASE WHEN i % 50 = 0 THEN 'emergency' ELSE 'peacetime' END, $3::date + ((i / 896) % 30)::int, NULL,
       CASE WHEN i % 10 < 8 THEN 'on_time' WHEN i % 10 = 8 THEN 'late' ELSE 'pending' END
  FROM generate_series($1::bigint, $2::bigint) AS i
"""
CALLBACKS = """
INSERT INTO score_callbacks (callback_id, ticket_id, dept_code, street, district, mode, day, solved, satisfaction,
                             excluded)
SELECT 'C-' || i, 'T-' || i, 'dept-' || (i % 896), 'st-' || (i % 208), 'd-' || ((i % 208) % 16),
       CASE WHEN i % 50 = 0 THEN 'emergency' ELSE 'peacetime' END, $3::date + ((i / 896) % 30)::int,
       CASE WHEN i % 7 = 6 THEN NULL ELSE i % 4 <> 0 END,
       CASE i % 7 WHEN 6 THEN NULL WHEN 0 THEN 'unsatisfied' WHEN 1 THEN 'basically_satisfied' ELSE 'satisfied' END,
       CASE WHEN i % 7 = 6 THEN 'unreachable' END
  FROM generate_series($1::bigint, $2::bigint) AS i WHERE i % 10 < 8
"""
# The same counters the consumer keeps, computed from the facts in one pass (used to build and to check).
FACT_COUNTS = """
WITH facts AS (
    SELECT dept_code, street, district, mode, day,
           (state IN ('on_time', 'late'))::int AS assigned, (state = 'on_time')::int AS responded,
           (state = 'pending')::int AS pending, 0 AS callbacks, 0 AS solved, 0 AS satisfied, 0 AS basically,
           0 AS unsatisfied, 0 AS unreachable
      FROM score_tasks
    UNION ALL
    SELECT dept_code, street, district, mode, day, 0, 0, 0, (excluded IS NULL)::int,
           (excluded IS NULL AND solved)::int, (excluded IS NULL AND satisfaction = 'satisfied')::int,
           (excluded IS NULL AND satisfaction = 'basically_satisfied')::int,
           (excluded IS NULL AND satisfaction = 'unsatisfied')::int,
           (excluded IS NOT DISTINCT FROM 'unreachable')::int
      FROM score_callbacks
)
SELECT level, mode, day, key, sum(assigned)::int AS assigned, sum(responded)::int AS responded,
       sum(pending)::int AS pending, sum(callbacks)::int AS callbacks, sum(solved)::int AS solved,
       sum(satisfied)::int AS satisfied, sum(basically)::int AS basically, sum(unsatisfied)::int AS unsatisfied,
       sum(unreachable)::int AS unreachable
  FROM facts CROSS JOIN LATERAL (VALUES ('department', dept_code), ('street', street), ('district', district),
                                        ('city', 'city')) AS l(level, key)
 WHERE key IS NOT NULL
 GROUP BY level, mode, day, key
"""
# The baseline: the question asked of the fact rows directly, for one month, per department (or district).
BASELINE = """
SELECT key, sum(assigned) AS assigned, sum(responded) AS responded, sum(callbacks) AS callbacks,
       sum(solved) AS solved, sum(satisfied) AS satisfied, sum(basically) AS basically
  FROM (
    SELECT {column} AS key, count(*) FILTER (WHERE state IN ('on_time', 'late')) AS assigned,
           count(*) FILTER (WHERE state = 'on_time') AS responded, 0 AS callbacks, 0 AS solved,
           0 AS satisfied, 0 AS basically
      FROM score_tasks WHERE mode = 'peacetime' AND day BETWEEN $1 AND $2 GROUP BY 1
    UNION ALL
    SELECT {column}, 0, 0, count(*) FILTER (WHERE excluded IS NULL),
           count(*) FILTER (WHERE excluded IS NULL AND solved),
           count(*) FILTER (WHERE excluded IS NULL AND satisfaction = 'satisfied'),
           count(*) FILTER (WHERE excluded IS NULL AND satisfaction = 'basically_satisfied')
      FROM score_callbacks WHERE mode = 'peacetime' AND day BETWEEN $1 AND $2 GROUP BY 1
  ) AS both_kinds GROUP BY key
"""
SECONDARY_INDEXES = [
    "score_tasks_dept",
    "score_tasks_street",
    "score_tasks_district",
    "score_tasks_day",
    "score_tasks_ticket",
    "score_callbacks_dept",
    "score_callbacks_street",
    "score_callbacks_district",
    "score_callbacks_day",
    "score_callbacks_ticket",
]


async def load(conn: asyncpg.Connection) -> float:
    started = time.monotonic()
    # A bulk load: indexes are built once at the end, not maintained row by row.
    definitions = [
        await conn.fetchval("SELECT pg_get_indexdef(($1::text)::regclass)", f"feedback.{name}")
        for name in SECONDARY_INDEXES
    ]
    for name in SECONDARY_INDEXES:
        await conn.execute(f"DROP INDEX feedback.{name}")
    for first in range(1, TICKETS + 1, CHUNK):
        last = min(first + CHUNK - 1, TICKETS)
        await conn.execute(TASKS, first, last, MONTH)
        await conn.execute(CALLBACKS, first, last, MONTH)
        print(f"  {last:,} tickets ({time.monotonic() - started:.0f} s)", flush=True)
    for definition in definitions:
        await conn.execute(definition)
    await conn.execute(f"INSERT INTO score_days SELECT * FROM ({FACT_COUNTS}) AS counted")
    await conn.execute("VACUUM ANALYZE score_tasks")
    await conn.execute("VACUUM ANALYZE score_callbacks")
    await conn.execute("VACUUM ANALYZE score_days")
    return time.monotonic() - started


async def timed(work: Callable[[], Awaitable[Any]], repeats: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return times, result


def _event(type_: str, ticket: str, at: datetime, serial: int, **detail: object) -> CloudEvent:
    status = TicketStatus.DISPATCHED
    return stand_ins.lifecycle("/bench", type_, ticket, status, detail, event_id=f"bench-{serial}", time=at)


async def incremental(dsn: str) -> tuple[int, float]:
    """Apply dispatched + deadlines_set + accepted-on-time + callback for INCREMENTAL_TICKETS tickets, one
    transaction per event as the consumer does (inbox claim included), onto the loaded month."""
    pool = await create_pool(dsn, "feedback", min_size=1, max_size=1)
    at = datetime(2026, 11, 15, 2, tzinfo=UTC)
    events = []
    for n in range(INCREMENTAL_TICKETS):
        ticket, dept, serial = f"inc-{n}", f"dept-{n % DEPARTMENTS}", 4 * n
        chain = {"district": f"d-{n % DISTRICTS}", "street": f"st-{n % STREETS}", "grid": None}
        events += [
            _event(
                types.TICKET_DISPATCHED,
                ticket,
                at,
                serial,
                dept_code=dept,
                assignment_id=f"A-{ticket}",
                category="sanitation.garbage",
                urgency="normal",
                location={"chain": chain},
            ),
            _event(
                types.SLA_DEADLINES_SET,
                ticket,
                at,
                serial + 1,
                deadlines={"accept": (at + timedelta(days=1)).isoformat()},
                dept_code=dept,
                assignment_id=f"A-{ticket}",
            ),
            _event(
                types.SLA_DEADLINE_MET,
                ticket,
                at,
                serial + 2,
                kind="accept",
                due_at=at + timedelta(days=1),
                late=False,
                dept_code=dept,
                assignment_id=f"A-{ticket}",
            ),
            _event(
                types.CALLBACK_RECORDED,
                ticket,
                at,
                serial + 3,
                callback_id=n,
                dept_code=dept,
                solved=True,
                satisfaction="satisfied",
            ),
        ]
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for event in events:
            async with conn.transaction():
                await conn.execute("INSERT INTO inbox (consumer, event_id) VALUES ('bench', $1)", event.id)
                await facts.on_lifecycle(conn, event)
    elapsed = time.perf_counter() - started
    await pool.close()
    return len(events), elapsed


def _ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:,.1f} ms, max {max(times) * 1000:,.1f} ms"


async def main() -> None:
    database = f"cityloop_bench_scores_{uuid.uuid4().hex[:8]}"
    async with scratch_database(database) as dsn:
        pool = await create_pool(dsn, "feedback", min_size=1, max_size=2)
        await migrate(pool, "feedback", MIGRATIONS)
        await pool.close()
        conn = await asyncpg.connect(dsn, server_settings={"search_path": "feedback"})
        try:
            print(f"loading a month of {TICKETS:,} tickets ...", flush=True)
            loaded_s = await load(conn)
            mismatches = await conn.fetchval(
                f"SELECT count(*) FROM (({FACT_COUNTS}) EXCEPT ALL (SELECT * FROM score_days)) AS diff"
            )
            assert mismatches == 0, f"{mismatches} counter rows disagree with the facts"
            tasks = await conn.fetchval("SELECT count(*) FROM score_tasks")
            callbacks = await conn.fetchval("SELECT count(*) FROM score_callbacks")
            day_rows = await conn.fetchval("SELECT count(*) FROM score_days")
            first, last = period_days(Period.MONTH, MONTH)
            figures: dict[str, tuple[int, list[float], list[float]]] = {}
            for level, column in ((Level.DEPARTMENT, "dept_code"), (Level.DISTRICT, "district")):
                q = reading.Query(by=level, period=Period.MONTH, day=MONTH, mode="peacetime", first=first, last=last)

                async def served(q: reading.Query = q) -> list[ScoreItem]:
                    return await reading.scores(conn, q, None)

                async def baseline(sql: str = BASELINE.format(column=column)) -> list[asyncpg.Record]:
                    return await conn.fetch(sql, first, last)

                scores_t, items = await timed(served, REPEATS)
                base_t, rows = await timed(baseline, 2)
                by_key = {r["key"]: r for r in rows}
                # Same question, same answer: the baseline's counts equal the served ones.
                for item in items:
                    row = by_key[item.key]
                    assert (item.response_numerator, item.response_denominator) == (row["responded"], row["assigned"])
                    assert (item.resolution_numerator, item.resolution_denominator) == (row["solved"], row["callbacks"])
                figures[level.value] = (len(items), scores_t, base_t)
        finally:
            await conn.close()
        applied, inc_s = await incremental(dsn)
    print(
        f"\nfacts: {tasks:,} task rows, {callbacks:,} callback rows; {day_rows:,} day-counter rows;"
        f" loaded in {loaded_s:.0f} s"
    )
    print("三率 over the month (peacetime), as GET /api/v1/scores computes it, against a GROUP BY over the facts:")
    for name, (n, scores_t, base_t) in figures.items():
        ratio = statistics.median(base_t) / statistics.median(scores_t)
        print(
            f"  by {name:<10} {n:>4} items: scores {_ms(scores_t)} | GROUP BY over facts {_ms(base_t)} | {ratio:,.0f}x"
        )
        record(
            f"三率 over a month by {name}",
            statistics.median(scores_t) * 1000,
            "ms",
            baseline=statistics.median(base_t) * 1000,
            baseline_name="GROUP BY over the facts",
            better="lower",
            note=f"{TICKETS:,} tickets, {n} items, median of {REPEATS}",
        )
    print(
        f"incremental upkeep: {applied:,} events applied one transaction each in {inc_s:.1f} s"
        f" = {applied / inc_s:,.0f} events/s"
    )
