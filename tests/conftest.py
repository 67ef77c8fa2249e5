"""Test plumbing: every test session gets its own database and its own topic prefix on the real
broker and database that ``make test`` started, so runs never see each other's data."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import structlog

from cityloop.common.logging import redact_personal_data
from cityloop.common.topics import delete_topics_with_prefix
from tests.databases import dsn_for, scratch_database

KAFKA = os.environ.get("CITYLOOP_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
RUN_ID = uuid.uuid4().hex[:8]
TOPIC_PREFIX = f"test-{RUN_ID}."
TEST_DB = f"cityloop_test_{RUN_ID}"
MAX_MESSAGE_BYTES = 512 * 1024


TEST_DSN = dsn_for(TEST_DB)

# structlog's default console renderer draws exceptions with rich, locals included: under load one crash
# report takes seconds and stalls the event loop every service of the `loop` fixture shares.
# Personal data is redacted from every line as in production (libs/common logging.py).
structlog.configure(
    processors=[
        *structlog.get_config()["processors"][:-1],
        redact_personal_data,
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
    ]
)


@pytest.fixture(scope="session", autouse=True)
def test_environment() -> None:
    """Every settings object built during the tests points at the test database and topic prefix."""
    os.environ["CITYLOOP_ENVIRONMENT"] = "test"
    os.environ["CITYLOOP_DATABASE_URL"] = TEST_DSN
    os.environ["CITYLOOP_TOPIC_PREFIX"] = TOPIC_PREFIX
    os.environ["CITYLOOP_KAFKA_BOOTSTRAP"] = KAFKA
    os.environ["CITYLOOP_LOG_JSON"] = "false"
    # Below the broker's own 1 MB message limit, so a test can send a message over ours
    # (tests/integration/test_poison_events.py).
    os.environ["CITYLOOP_MAX_MESSAGE_BYTES"] = str(MAX_MESSAGE_BYTES)
    # Task topics appear with a department's first task (topics.TopicProvisioner), not ~900 per run.
    os.environ["CITYLOOP_ROUTER_TASK_TOPICS_AT_START"] = "false"
    # Half the production seed set: every router start and retrain trains a model, and the tests' texts are
    # plain enough for it (production's 60 per category is for the realistic set, README "Router").
    os.environ.setdefault("CITYLOOP_ROUTER_SEED_EXAMPLES_PER_CATEGORY", "30")


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    try:
        async with scratch_database(TEST_DB) as dsn:
            yield dsn
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
async def kafka() -> AsyncIterator[str]:
    writer = None
    try:
        host, port = KAFKA.split(":")
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
    except (OSError, TimeoutError) as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); run the tests with `make test`")
    finally:
        if writer is not None:
            writer.close()
    yield KAFKA
    await delete_topics_with_prefix(KAFKA, TOPIC_PREFIX)
