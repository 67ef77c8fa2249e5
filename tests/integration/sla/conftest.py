"""An sla service of its own (own database, own topic prefix, shortened policies) on the real broker and
database: tests play the router and feedback by publishing lifecycle events, and read what sla says on
``ticket.lifecycle`` and the departments' task topics."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.pool import PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import TICKET_LIFECYCLE, dept_tasks, ensure_topics
from cityloop.sla.app import create_app
from cityloop.sla.policy import Policy, PolicyBook, PolicyRule, Span
from cityloop.sla.settings import SlaSettings
from tests import stand_ins
from tests.conftest import RUN_ID, TOPIC_PREFIX
from tests.databases import scratch_database

DEPTS = ("sla-street", "sla-street-b")
SUPERVISORS = ["sla-district", "sla-city"]

#: Seconds instead of days: accept 3 s, resolve 6 s, warning at half-time, one ladder step a second.
SHORT = Policy(
    accept=Span(seconds=3),
    resolve=Span(seconds=6),
    callback=Span(seconds=60),
    rehandle=Span(seconds=60),
    extension_cap=Span(seconds=3600),
    warn_ratio=0.5,
    escalate_every=Span(seconds=1),
)
#: Tickets of category ``slow.*`` leave time for an extension to be decided.
SLOW = SHORT.model_copy(update={"accept": Span(seconds=120), "resolve": Span(seconds=300)})
#: Tickets of category ``calendar.*`` run on the published defaults (working days, office hours).
RULES = (PolicyRule(category="slow", policy=SLOW), PolicyRule(category="calendar", policy=Policy()))


class TopicReader:
    """Collects every event on one topic from the beginning, in the background."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            for records in (await self._consumer.getmany(timeout_ms=200)).values():
                self.events += [orjson.loads(r.value) for r in records]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def of(self, ticket_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("subject") == ticket_id]

    async def wait_for(
        self, ticket_id: str, found: Callable[[list[dict[str, Any]]], bool], seconds: float = 30
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(seconds):
            while True:
                trail = self.of(ticket_id)
                if found(trail):
                    return trail
                await asyncio.sleep(0.05)


@dataclass
class Sla:
    settings: SlaSettings
    app: FastAPI
    http: httpx.AsyncClient
    producer: EventProducer
    lifecycle: TopicReader
    tasks: dict[str, TopicReader]

    @property
    def pool(self) -> PgPool:
        pool: PgPool = self.app.state.runtime.pool
        return pool

    async def announce(
        self,
        ticket_id: str,
        type_: str,
        status: TicketStatus | None = None,
        *,
        at: datetime | None = None,
        **detail: object,
    ) -> CloudEvent:
        """Publish a lifecycle event as the router or feedback would (``detail`` checked against its model;
        ``at``: the event's time, now if None)."""
        event = stand_ins.lifecycle("/tests/sla", type_, ticket_id, status, detail, time=at)
        await self.producer.publish(TICKET_LIFECYCLE.name, event)
        return event

    def as_(self, role: Role, dept_code: str | None = None) -> dict[str, str]:
        identity = Identity(subject=f"test-{role.value}", role=role, dept_code=dept_code)
        return {HEADER: encode_identity(identity, self.settings.internal_secret)}


@pytest.fixture(scope="session")
async def sla(kafka: str) -> AsyncIterator[Sla]:
    async with scratch_database(f"cityloop_test_{RUN_ID}_sla") as dsn:
        prefix = f"{TOPIC_PREFIX}sla."
        settings = SlaSettings(
            database_url=dsn,
            topic_prefix=prefix,
            kafka_bootstrap=kafka,
            policies=PolicyBook(peacetime=SHORT, rules=RULES),
            tick_seconds=0.1,
        )
        await ensure_topics(kafka, prefix, [dept_tasks(code) for code in (*DEPTS, *SUPERVISORS)])
        app = create_app(settings)
        producer = EventProducer(kafka, prefix, client_id="tests.sla")
        lifecycle = TopicReader(kafka, f"{prefix}{TICKET_LIFECYCLE.name}")
        tasks = {code: TopicReader(kafka, f"{prefix}{dept_tasks(code).name}") for code in DEPTS}
        async with app.router.lifespan_context(app):
            await app.state.runtime.wait_consumers_ready()
            await producer.start()
            for reader in (lifecycle, *tasks.values()):
                await reader.start()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sla") as http:
                yield Sla(settings, app, http, producer, lifecycle, tasks)
            for reader in (lifecycle, *tasks.values()):
                await reader.stop()
            await producer.stop()
