"""A department's system as an outside integrator writes it: plain aiokafka and plain JSON, no CityLoop code.

Used by the tests to read tasks from ``dept.<code>.tasks`` and answer on ``dept.<code>.updates``: the
department's own topic, which names it as the sender (router refuses an update there that names another).
"""

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


def cloud_event(type_: str, data: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "/dept/test-system",
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "subject": data.get("ticket_id"),
        "datacontenttype": "application/json",
        "data": data,
    }


def _is_deadline_set(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "cityloop.task.updated" and event["data"].get("change") == "deadline_set")


class DeptSystem:
    """``security``: aiokafka's keyword arguments for an authenticated broker, as the city's operators give
    them to the department, e.g. ``security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
    sasl_plain_username="dept-<code>", sasl_plain_password=...`` (tests/integration/test_kafka_acls.py)."""

    def __init__(self, bootstrap: str, prefix: str, dept_code: str, **security: Any) -> None:
        self.dept_code = dept_code
        self._prefix = prefix
        self._bootstrap = bootstrap
        self._security = security
        self._topic = f"{prefix}dept.{dept_code}.tasks"
        #: Where this department answers; only it may write there (broker ACLs in production).
        self.updates_topic = f"{prefix}dept.{dept_code}.updates"
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=bootstrap,
            # Named dept.<code>.*: the only consumer groups the department's KafkaUser may use.
            group_id=f"{prefix}dept.{dept_code}.system",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            # The topic may appear only with this department's first task: look for it every second.
            metadata_max_age_ms=1000,
            **security,
        )
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **security)
        self._pending: deque[dict[str, Any]] = deque()

    async def __aenter__(self) -> "DeptSystem":
        await self._ensure_topic()
        await self._consumer.start()
        await self._producer.start()
        return self

    async def _ensure_topic(self) -> None:
        # In production every department's task and updates topics exist before its system starts (router
        # creates them at start); test runs create them with a department's first task (tests/conftest.py),
        # so a department that has had none yet makes its own, as production would already have them.
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._security)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            for topic in (self._topic, self.updates_topic):
                if topic not in existing:
                    # router's first task for this department may have created it meanwhile
                    with contextlib.suppress(TopicAlreadyExistsError):
                        await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()
        await self._producer.stop()

    async def next_task(self, ticket_id: str, wait_seconds: float = 30.0) -> dict[str, Any]:
        """The next task event for ``ticket_id``, as the parsed CloudEvent, leaving aside the deadline
        updates sla sends after each assignment (``next_deadlines`` reads those)."""
        return await self._next(ticket_id, lambda e: not _is_deadline_set(e), wait_seconds)

    async def next_deadlines(self, ticket_id: str, wait_seconds: float = 30.0) -> dict[str, Any]:
        """The next ``cityloop.task.updated`` with change ``deadline_set`` for ``ticket_id``."""
        return await self._next(ticket_id, _is_deadline_set, wait_seconds)

    async def _next(
        self, ticket_id: str, wanted: Callable[[dict[str, Any]], bool], wait_seconds: float
    ) -> dict[str, Any]:
        """Events fetched but not asked for yet (later ones of this ticket, others of other tickets) wait in
        ``_pending`` for the call that asks for them instead of being lost."""
        async with asyncio.timeout(wait_seconds):
            while True:
                for event in self._pending:
                    if event["subject"] == ticket_id and wanted(event):
                        self._pending.remove(event)
                        return event
                batch = await self._consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    self._pending.extend(json.loads(record.value) for record in records)
                if batch:
                    await self._consumer.commit()

    async def send(self, event: dict[str, Any]) -> None:
        key = event["data"]["ticket_id"].encode()
        headers = [("content-type", b"application/cloudevents+json")]
        await self._producer.send_and_wait(self.updates_topic, json.dumps(event).encode(), key=key, headers=headers)

    async def answer(self, task: dict[str, Any], type_: str, **extra: Any) -> dict[str, Any]:
        data = {
            "ticket_id": task["data"]["ticket_id"],
            "assignment_id": task["data"]["assignment_id"],
            "dept_code": self.dept_code,
            **extra,
        }
        event = cloud_event(type_, data)
        await self.send(event)
        return event
