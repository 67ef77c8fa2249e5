"""A feedback service of its own (own database, own topic prefix) on the real broker and database: the
tests play intake, router, sla and the callbacks by publishing lifecycle events with chosen times."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from cityloop.common.contract.models import TicketStatus
from cityloop.common.db.pool import PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.topics import TICKET_LIFECYCLE
from cityloop.feedback.app import create_app
from cityloop.feedback.settings import FeedbackSettings
from tests import stand_ins
from tests.conftest import RUN_ID, TOPIC_PREFIX
from tests.databases import scratch_database


@dataclass
class Feedback:
    settings: FeedbackSettings
    app: FastAPI
    producer: EventProducer
    published: set[str] = field(default_factory=set)
    _serial: int = 0

    @property
    def pool(self) -> PgPool:
        pool: PgPool = self.app.state.runtime.pool
        return pool

    async def announce(
        self, ticket_id: str, type_: str, at: datetime, status: TicketStatus | None = None, /, **detail: object
    ) -> CloudEvent:
        """Publish a lifecycle event at a chosen moment, as intake, router, sla or callbacks would."""
        self._serial += 1
        event = stand_ins.lifecycle(
            "/tests/scores", type_, ticket_id, status, detail, event_id=f"scores-test-{RUN_ID}-{self._serial}", time=at
        )
        await self.republish(event)
        return event

    async def republish(self, event: CloudEvent) -> None:
        await self.producer.publish(TICKET_LIFECYCLE.name, event)
        self.published.add(event.id)

    async def settled(self, consumer: str = "feedback.scores", seconds: float = 60) -> None:
        """Until the consumer has applied every event published so far."""
        async with asyncio.timeout(seconds):
            while True:
                done = await self.pool.fetchval(
                    "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
                    consumer,
                    list(self.published),
                )
                if done == len(self.published):
                    return
                await asyncio.sleep(0.1)

    def client(self, role: Role, dept_code: str | None = None) -> httpx.AsyncClient:
        identity = Identity(subject=f"test-{role.value}", role=role, dept_code=dept_code)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://feedback",
            headers={HEADER: encode_identity(identity, self.settings.internal_secret)},
        )


@pytest.fixture(scope="session")
async def feedback(kafka: str) -> AsyncIterator[Feedback]:
    async with scratch_database(f"cityloop_test_{RUN_ID}_scores") as dsn:
        settings = FeedbackSettings(database_url=dsn, topic_prefix=f"{TOPIC_PREFIX}scores.", kafka_bootstrap=kafka)
        app = create_app(settings)
        producer = EventProducer(kafka, settings.topic_prefix, client_id="tests.scores")
        async with app.router.lifespan_context(app):
            await app.state.runtime.wait_consumers_ready()
            await producer.start()
            try:
                yield Feedback(settings, app, producer)
            finally:
                await producer.stop()
