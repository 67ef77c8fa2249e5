"""Every event CityLoop published during a test session, checked against the published JSON Schemas
(docs/contract/events/): read back from the broker, topic by topic, at the end of the session."""

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from jsonschema import Draft202012Validator

EVENTS = Path(__file__).resolve().parents[1] / "docs" / "contract" / "events"
#: The topics CityLoop writes (a session's prefix, and a fixture's own, come before them). Department
#: updates are written by the tests' department systems, some broken on purpose: they are not checked.
#: How long the end-of-session read of every produced topic may take before it reports what it missed.
READ_SECONDS = 180
PRODUCED = re.compile(r"(?:^|\.)(ticket\.lifecycle|control\.mode|dept\.[^.]+\.tasks)$")


def validators() -> dict[str, Draft202012Validator]:
    return {p.stem: Draft202012Validator(json.loads(p.read_text())) for p in sorted(EVENTS.glob("*.json"))}


def check(payload: bytes, checks: dict[str, Draft202012Validator]) -> tuple[str, list[str]]:
    """(the event's type, what is wrong with it)."""
    try:
        event: dict[str, Any] = json.loads(payload)
    except ValueError as exc:
        return "?", [f"not JSON: {exc}"]
    type_ = str(event.get("type"))
    validator = checks.get(type_)
    if validator is None:
        return type_, [f"{type_!r} is not a published event type"]
    wrong = [
        f"{type_} {event.get('id')}: {'/'.join(map(str, e.path)) or 'event'}: {e.message}"
        for e in validator.iter_errors(event)
    ]
    return type_, wrong


async def check_published_events(bootstrap: str, prefix: str) -> tuple[Counter[str], list[str]]:
    """(events checked per type, problems) for every event on the produced topics under ``prefix``."""
    checks = validators()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix) and PRODUCED.search(t[len(prefix) :])]
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    counted: Counter[str] = Counter()
    problems: list[str] = []
    if not partitions:
        return counted, problems
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        # Assigning first makes the consumer fetch these topics' metadata (their partition leaders).
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        remaining = {tp: end for tp, end in ends.items() if end > starts[tp]}
        await consumer.seek_to_beginning(*partitions)
        # Every partition's position is checked each round, not only those that returned records: a
        # partition whose last offsets hold no records (e.g. transaction markers) returns nothing and
        # would otherwise be waited on forever. A time limit turns a stuck read into a named problem.
        deadline = asyncio.get_running_loop().time() + READ_SECONDS
        while remaining:
            for records in (await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    if record.value is not None:
                        type_, wrong = check(record.value, checks)
                        counted[type_] += 1
                        problems += wrong
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
            if remaining and asyncio.get_running_loop().time() > deadline:
                problems += [f"{tp.topic}/{tp.partition}: not read to its end in {READ_SECONDS} s" for tp in remaining]
                break
    finally:
        await consumer.stop()
    return counted, problems
