"""Department identity held by the broker (issue 11): on a second local broker with SASL/SCRAM and ACLs,
set exactly as the production manifests set them (deploy/k8s/departments/kafka-users.yaml for departments,
deploy/k8s/base/kafka/users.yaml for router), department A writes its own dept.A.updates but the broker
refuses its write to dept.B.updates and its read of dept.B.tasks; router's user reads A's update. So B's
update for A's assignment cannot even be written where router would take it as A's (router's own check,
for a dept_code that is not the topic's, is tests/integration/test_dept_identity.py)."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError, for_code
from pydantic import SecretStr

from cityloop.common.kafka.connection import client_options
from cityloop.common.settings import CommonSettings
from tests.dept_system import DeptSystem, cloud_event
from tests.integration.secure_broker import ADMIN, REPO, SecureBroker, bindings_of, secure_broker

K8S = REPO / "deploy" / "k8s"
A, B = "pd-s01", "pd-sanitation"
USER_A, USER_B, ROUTER = f"dept-{A}", f"dept-{B}", "cityloop-router"


def kafka_users(path: Path) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc and doc["kind"] == "KafkaUser"
    }


async def produce(broker: SecureBroker, user: str, topic: str, value: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(**broker.client_options(user), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(value).encode(), key=value["ticket_id"].encode())
    finally:
        await producer.stop()


async def read_one(consumer: AIOKafkaConsumer) -> dict[str, Any]:
    try:
        await consumer.start()
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    value: dict[str, Any] = json.loads(records[0].value)
                    return value
    finally:
        await consumer.stop()


async def test_a_department_writes_only_its_updates_and_reads_only_its_tasks() -> None:
    departments = kafka_users(K8S / "departments" / "kafka-users.yaml")
    services = kafka_users(K8S / "base" / "kafka" / "users.yaml")
    async with secure_broker([USER_A, USER_B, ROUTER]) as broker:
        users = (departments[USER_A], departments[USER_B], services[ROUTER])
        await broker.set_acls([binding for user in users for binding in bindings_of(user)])

        # The topics exist, as router creates them in production (the departments may not).
        admin_producer = AIOKafkaProducer(**broker.client_options(ADMIN))
        admin = AIOKafkaAdminClient(**broker.client_options(ADMIN))
        await admin.start()
        try:
            await admin.create_topics(
                [NewTopic(f"dept.{code}.{kind}", 1, 1) for code in (A, B) for kind in ("tasks", "updates")]
            )
        finally:
            await admin.close()
        await admin_producer.start()
        try:
            for code in (A, B):
                data = {"ticket_id": f"T-{code}", "assignment_id": f"A-{code}", "dept_code": code}
                task = cloud_event("cityloop.task.assigned", data)
                await admin_producer.send_and_wait(f"dept.{code}.tasks", json.dumps(task).encode(), key=b"T")
        finally:
            await admin_producer.stop()

        # A, as an integrator writes it (tests/dept_system.py) with its credentials: reads its task, answers.
        security = {k: v for k, v in broker.client_options(USER_A).items() if k != "bootstrap_servers"}
        async with DeptSystem(broker.bootstrap, "", A, **security) as dept_a:
            task = await dept_a.next_task(f"T-{A}")
            assert task["data"]["assignment_id"] == f"A-{A}"
            mine = await dept_a.answer(task, "cityloop.dept.accepted")

        # A answering on B's topic (B's identity) is refused by the broker.
        posing = {"ticket_id": f"T-{B}", "assignment_id": f"A-{B}", "dept_code": B}
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(broker, USER_A, f"dept.{B}.updates", posing)

        # A reads its own tasks (above, in its own group) but not B's, so it never learns B's assignment ids: the
        # broker will not even describe B's topic to A (Read implies Describe); A's client finds nothing to fetch.
        as_a = AIOKafkaAdminClient(**broker.client_options(USER_A))
        await as_a.start()
        try:
            topics = await as_a.describe_topics([f"dept.{A}.tasks", f"dept.{B}.tasks"])
            described = {t["topic"]: t["error_code"] for t in topics}
        finally:
            await as_a.close()
        assert described[f"dept.{A}.tasks"] == 0
        assert for_code(described[f"dept.{B}.tasks"]) is TopicAuthorizationFailedError
        # Nor may A use B's consumer group.
        in_b_group = AIOKafkaConsumer(
            f"dept.{A}.tasks", **broker.client_options(USER_A), group_id=f"dept.{B}.tasks", auto_offset_reset="earliest"
        )
        with pytest.raises(GroupAuthorizationFailedError):
            await read_one(in_b_group)

        # Router, connecting the way every service does (CITYLOOP_KAFKA_* settings), reads A's update.
        settings = CommonSettings(
            kafka_bootstrap=broker.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=ROUTER,
            kafka_sasl_password=SecretStr(broker.users[ROUTER]),
        )
        router = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap,
            group_id="cityloop.router.dept-updates",
            auto_offset_reset="earliest",
            **client_options(settings),
        )
        router.subscribe(pattern=r"^dept\.[^.]+\.updates$")
        assert await read_one(router) == mine
