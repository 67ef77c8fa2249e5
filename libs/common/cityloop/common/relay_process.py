"""A service's outbox relay as its own process: ``python -m cityloop.common.relay_process <settings class>``.

For deployments that scale the API and the relay apart (the API then runs with
``CITYLOOP_OUTBOX_RELAY_IN_PROCESS=false``), and for the crash tests that kill a relay mid-publish.
Several relays of one schema are safe: an advisory lock lets one publish at a time.
"""

import asyncio
import importlib
import sys

import structlog

from cityloop.common.db.pool import create_pool
from cityloop.common.kafka.connection import client_options
from cityloop.common.kafka.producer import EventProducer
from cityloop.common.logging import configure_logging
from cityloop.common.outbox import OutboxRelay
from cityloop.common.settings import CommonSettings
from cityloop.common.topics import TopicProvisioner

log = structlog.get_logger(__name__)


async def run_relay(settings: CommonSettings) -> None:
    """Publish the service's outbox until cancelled or killed."""
    pool = await create_pool(settings.service_database_url, settings.db_schema, min_size=1, max_size=2)
    producer = EventProducer(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        client_id=f"cityloop.{settings.service_name}.relay",
        options=client_options(settings),
    )
    await producer.start()
    try:
        relay = OutboxRelay(
            pool,
            producer,
            schema=settings.db_schema,
            batch=settings.outbox_batch,
            idle_seconds=settings.outbox_idle_seconds,
            provision=TopicProvisioner.on_broker(
                settings.kafka_bootstrap,
                settings.topic_prefix,
                replication_factor=settings.kafka_replication_factor,
                options=client_options(settings),
            ).ensure,
        )
        log.info("relay.started", service=settings.service_name)
        await relay.run()
    finally:
        await producer.stop()
        await pool.close()


def _settings(dotted: str) -> CommonSettings:
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, CommonSettings)):
        raise SystemExit(f"{dotted} is not a settings class")
    return cls()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m cityloop.common.relay_process <module.SettingsClass>")
    chosen = _settings(sys.argv[1])
    configure_logging(f"{chosen.service_name}-relay", level=chosen.log_level, json=chosen.log_json)
    asyncio.run(run_relay(chosen))
