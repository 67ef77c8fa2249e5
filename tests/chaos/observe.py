"""Everything the invariants look at, fetched at the end of a run: rows from every service's schema and
every event on every topic, read from the beginning to the end offsets seen at the start of the read."""

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

SCHEMAS = ("intake", "router", "sla", "feedback")
#: The events one fire of an sla clock emits (sla/firing.py).
TIMER_TYPES = frozenset({"cityloop.sla.warning", "cityloop.sla.breached", "cityloop.sla.escalated"})


@dataclass(frozen=True)
class Clock:
    id: int
    ticket_id: str
    kind: str
    state: str
    fire_count: int
    #: Due (next_fire_at passed) longer ago than the grace the sla firing loop may take: a missed fire.
    overdue: bool


@dataclass(frozen=True)
class DlqEntry:
    topic: str
    key: str | None
    reason: str
    event_id: str | None


@dataclass
class Observed:
    tickets: dict[str, str] = field(default_factory=dict)  # intake: ticket id -> status
    descriptions: dict[str, int] = field(default_factory=dict)  # intake: description -> tickets with it
    trails: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # ticket -> [(type, event id)] by seq
    #: router: ticket -> [(assignment id, role, status)]
    assignments: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    clocks: list[Clock] = field(default_factory=list)
    #: feedback: ticket -> [(trigger, status)]; trigger "resolved", or "overdue" (the resolve deadline passed)
    callbacks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    callback_ids: dict[str, set[int]] = field(default_factory=dict)  # feedback: ticket -> its callbacks' ids
    #: intake's trail: ticket -> the callback ids its cityloop.callback.opened entries name (an overdue callback
    #: that turns into the resolution's is announced twice, under one id)
    opened_callback_ids: dict[str, set[int]] = field(default_factory=dict)
    inbox: dict[str, set[str]] = field(default_factory=dict)  # consumer -> applied event ids
    unpublished_outbox: dict[str, int] = field(default_factory=dict)  # schema -> rows not yet published
    #: ticket.lifecycle: [(event id, ticket id, type, (clock id, step) for sla timer events)]
    lifecycle: list[tuple[str, str, str, tuple[int, str] | None]] = field(default_factory=list)
    #: dept.*.tasks: [(event id, type, assignment id)]
    tasks: list[tuple[str, str, str]] = field(default_factory=list)
    dlq: list[DlqEntry] = field(default_factory=list)
    #: Records each consumer group (sla's aside: stopped for the check) had not consumed at the end.
    group_lag: dict[str, int] = field(default_factory=dict)


async def fetch_rows(dsn: str, observed: Observed, *, grace_seconds: float) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for row in await conn.fetch("SELECT id, status, description FROM intake.tickets"):
            observed.tickets[row["id"]] = row["status"]
            observed.descriptions[row["description"]] = observed.descriptions.get(row["description"], 0) + 1
        trails: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in await conn.fetch("SELECT ticket_id, type, event_id FROM intake.ticket_timeline ORDER BY seq"):
            trails[row["ticket_id"]].append((row["type"], row["event_id"]))
        observed.trails = dict(trails)
        assignments: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for row in await conn.fetch("SELECT ticket_id, id, role, status FROM router.assignments"):
            assignments[row["ticket_id"]].append((row["id"], row["role"], row["status"]))
        observed.assignments = dict(assignments)
        observed.clocks = [
            Clock(r["id"], r["ticket_id"], r["kind"], r["state"], r["fire_count"], r["overdue"])
            for r in await conn.fetch(
                "SELECT id, ticket_id, kind, state, fire_count,"
                " coalesce(next_fire_at < now() - make_interval(secs => $1), false) AS overdue FROM sla.clocks",
                grace_seconds,
            )
        ]
        callbacks: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in await conn.fetch("SELECT id, ticket_id, trigger, status FROM feedback.callbacks"):
            callbacks[row["ticket_id"]].append((row["trigger"], row["status"]))
            observed.callback_ids.setdefault(row["ticket_id"], set()).add(row["id"])
        observed.callbacks = dict(callbacks)
        for row in await conn.fetch(
            "SELECT ticket_id, (detail->>'callback_id')::bigint AS id FROM intake.ticket_timeline"
            " WHERE type = 'cityloop.callback.opened'"
        ):
            observed.opened_callback_ids.setdefault(row["ticket_id"], set()).add(row["id"])
        for schema in SCHEMAS:
            for row in await conn.fetch(f"SELECT consumer, event_id FROM {schema}.inbox"):
                observed.inbox.setdefault(row["consumer"], set()).add(row["event_id"])
            observed.unpublished_outbox[schema] = await conn.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
            )
    finally:
        await conn.close()


async def read_topics(bootstrap: str, partitions: list[TopicPartition]) -> dict[str, list[Any]]:
    """Every record of ``partitions`` up to their current end offsets, by topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    records: dict[str, list[Any]] = {tp.topic: [] for tp in partitions}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        async with asyncio.timeout(600):
            while left:
                batch = await consumer.getmany(*left, timeout_ms=1000, max_records=5000)
                for tp, got in batch.items():
                    records[tp.topic].extend(got)
                for tp in list(left):
                    if await consumer.position(tp) >= ends[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return records


async def fetch_topics(bootstrap: str, prefix: str, observed: Observed) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix) and not t.startswith("__")]
        lifecycle = f"{prefix}ticket.lifecycle"
        tasks = [t for t in names if t.startswith(f"{prefix}dept.") and t.endswith(".tasks")]
        dlqs = [t for t in names if t.endswith(".dlq")]
        described = await admin.describe_topics([lifecycle, *tasks, *dlqs])
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    records = await read_topics(bootstrap, partitions)
    for topic in (lifecycle, *tasks, *dlqs):
        records.setdefault(topic, [])
    for record in records[lifecycle]:
        event = json.loads(record.value)
        detail = (event.get("data") or {}).get("detail") or {}
        # One fire of a clock's ladder: the step and when it was scheduled (通报 repeats the same step).
        timer = None
        if event["type"] in TIMER_TYPES:
            timer = (int(detail["clock_id"]), f"{detail['step']}@{detail['scheduled_at']}")
        observed.lifecycle.append((event["id"], event.get("subject") or "", event["type"], timer))
    for topic in tasks:
        for record in records[topic]:
            event = json.loads(record.value)
            observed.tasks.append((event["id"], event["type"], (event.get("data") or {}).get("assignment_id", "")))
    for topic in dlqs:
        for record in records[topic]:
            headers = {k: v.decode(errors="replace") for k, v in record.headers}
            observed.dlq.append(
                DlqEntry(
                    topic[len(prefix) :],
                    record.key.decode(errors="replace") if record.key else None,
                    headers.get("cityloop-dlq-reason", ""),
                    headers.get("cityloop-dlq-event-id"),
                )
            )


async def observe(dsn: str, bootstrap: str, prefix: str, *, grace_seconds: float = 15.0) -> Observed:
    observed = Observed()
    await fetch_rows(dsn, observed, grace_seconds=grace_seconds)
    await fetch_topics(bootstrap, prefix, observed)
    return observed
