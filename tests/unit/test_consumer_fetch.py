"""How a consumer asks the broker for records: at once for a quiet topic, in fuller fetches for a busy one
(ServiceRuntime.consume(busy=True)), and rarely for a pattern over every department's topic."""

from typing import Any, cast

from cityloop.common.db.pool import Conn, PgPool
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import EventConsumer
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.settings import CommonSettings


async def _ignore(_conn: Conn, _event: CloudEvent) -> None:
    return None


def _options(**kwargs: Any) -> dict[str, Any]:
    consumer = EventConsumer(
        name="test",
        pool=cast(PgPool, None),
        producer=cast(EventProducer, None),
        bootstrap="127.0.0.1:1",
        topic_prefix="p.",
        **kwargs,
    )
    return consumer._client_options  # what the Kafka client is built with


async def test_a_quiet_topic_is_fetched_as_soon_as_a_record_is_there() -> None:
    options = _options(topics=["control.mode"], handler=_ignore)
    assert (options["fetch_min_bytes"], options["fetch_max_wait_ms"]) == (1, 500)


async def test_a_busy_topic_is_fetched_in_fuller_batches_as_the_settings_say() -> None:
    settings = CommonSettings()
    options = _options(
        topics=["ticket.lifecycle"],
        handler=_ignore,
        fetch_min_bytes=settings.kafka_fetch_busy_min_bytes,
        fetch_max_wait_ms=settings.kafka_fetch_busy_wait_ms,
    )
    assert (options["fetch_min_bytes"], options["fetch_max_wait_ms"]) == (65_536, 100)


async def _ignore_sourced(conn: Conn, event: CloudEvent, _topic: str) -> None:
    await _ignore(conn, event)


async def test_a_pattern_over_every_department_waits_longer_between_idle_fetches() -> None:
    options = _options(pattern=r"dept\.[a-z0-9-]+\.updates", sourced_handler=_ignore_sourced)
    assert (options["fetch_min_bytes"], options["fetch_max_wait_ms"]) == (1, 10_000)
