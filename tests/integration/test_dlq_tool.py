"""The DLQ tool shows a poisoned event with its reason; after the fix, replay applies it once, twice is a no-op."""

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
import pytest

from cityloop.common import dlq
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer, Refused, dlq_name
from cityloop.common.settings import CommonSettings
from cityloop.common.topics import TopicSpec, ensure_topics
from tests.conftest import KAFKA, TEST_DSN, TOPIC_PREFIX
from tests.integration.conftest import Loop

TOPIC = "dlq-tool.in"  # a topic of this test's own, one partition so order is plain


async def command(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert await dlq.run(["--operator", "test-operator", *argv], CommonSettings()) == 0
    out = capsys.readouterr().out
    # One JSON object per line; the tool's own log lines (structlog) may be interleaved on stdout in tests.
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def wait_until(check: Any) -> None:
    async with asyncio.timeout(30):
        while not await check():  # noqa: ASYNC110 - polling the database and the broker, no event to wait on
            await asyncio.sleep(0.1)


async def test_poisoned_event_shown_then_replayed_once_after_the_fix(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = loop.runtime("feedback")
    pool = runtime.pool
    await ensure_topics(KAFKA, TOPIC_PREFIX, [TopicSpec(TOPIC, 1), TopicSpec(dlq_name(TOPIC), 1)])
    # The service's role may not create tables (its own schema's rights only): the owner makes this test's.
    role = runtime.settings.db_role or "CURRENT_USER"
    owner = await asyncpg.connect(TEST_DSN)
    try:
        await owner.execute(
            "CREATE TABLE IF NOT EXISTS public.dlq_tool_known (name text PRIMARY KEY);"
            "CREATE TABLE IF NOT EXISTS public.dlq_tool_applied (event_id text, name text);"
            f"GRANT SELECT, INSERT ON public.dlq_tool_known, public.dlq_tool_applied TO {role};"
        )
    finally:
        await owner.close()

    async def handler(conn: Conn, event: CloudEvent) -> None:
        name = event.data["name"]
        if not await conn.fetchval("SELECT 1 FROM public.dlq_tool_known WHERE name = $1", name):
            raise Refused(f"unknown name {name}")
        await conn.execute("INSERT INTO public.dlq_tool_applied VALUES ($1, $2)", event.id, name)

    consumer = EventConsumer(
        name="test.dlq-tool",
        topics=[TOPIC],
        handler=handler,
        pool=pool,
        producer=runtime.producer,
        bootstrap=KAFKA,
        topic_prefix=TOPIC_PREFIX,
    )

    def event(name: str) -> CloudEvent:
        return CloudEvent(type="cityloop.test.named", source="/test", subject=name, data={"name": name})

    async def applied(event_id: str) -> int:
        return int(await pool.fetchval("SELECT count(*) FROM public.dlq_tool_applied WHERE event_id = $1", event_id))

    running = asyncio.create_task(consumer.run())
    try:
        poisoned = event("zhang")
        await runtime.producer.publish(TOPIC, poisoned)

        async def listed() -> bool:
            return any(e["event_id"] == poisoned.id for e in await command(capsys, "list", TOPIC))

        await wait_until(listed)
        [shown] = await command(capsys, "show", TOPIC, "--event-id", poisoned.id)
        assert shown["reason"] == "unknown name zhang"
        assert shown["consumer"] == "test.dlq-tool"
        assert shown["headers"]["cityloop-dlq-event-id"] == poisoned.id
        assert shown["event"]["data"] == {"name": "zhang"}
        assert await applied(poisoned.id) == 0

        await pool.execute("INSERT INTO public.dlq_tool_known VALUES ('zhang'), ('li')")  # the fix
        [replayed] = await command(capsys, "replay", TOPIC, "--event-id", poisoned.id)
        assert replayed["replayed"]["event_id"] == poisoned.id

        async def once() -> bool:
            return await applied(poisoned.id) == 1

        await wait_until(once)
        await command(capsys, "replay", TOPIC, "--event-id", poisoned.id)
        # An event published after the second replay: once it is applied, the replay was consumed too.
        marker = event("li")
        await runtime.producer.publish(TOPIC, marker)

        async def marker_applied() -> bool:
            return await applied(marker.id) == 1

        await wait_until(marker_applied)
        assert await applied(poisoned.id) == 1

        await command(capsys, "discard", TOPIC, "--event-id", poisoned.id)
        assert await command(capsys, "list", TOPIC) == []
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
