"""``python -m cityloop.feedback.signals``: feedback's stream worker (faust), its own process."""

import asyncio

import faust
from aiokafka.admin import AIOKafkaAdminClient

from cityloop.common.kafka.connection import client_options
from cityloop.common.topics import all_topics, ensure_topics, full_name
from cityloop.feedback.signals import agents, timers, web
from cityloop.feedback.signals.app import app, settings
from cityloop.feedback.signals.topics import CHANGELOGS, SIGHTINGS

# Imported for their registrations on the app.
_REGISTERED = (agents, timers, web)


async def prepare() -> None:
    """The contract's topics and the worker's own exist, and the broker lists them, before faust starts."""
    specs = [*all_topics(), SIGHTINGS, *CHANGELOGS]
    options = client_options(settings)
    await ensure_topics(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        specs,
        replication_factor=settings.kafka_replication_factor,
        options=options,
    )
    wanted = {full_name(s.name, settings.topic_prefix) for s in specs}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **options)
    await admin.start()
    try:
        async with asyncio.timeout(600):
            while True:  # a loaded broker can take a while to list a topic it has just created
                if wanted <= set(await admin.list_topics()):
                    return
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


def main() -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # faust makes only the last level of its datadir
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(prepare())
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, loop=loop)
    # faust's terminal spinner: at a level of WARNING or above it sets the root logger to DEBUG so that it
    # spins on every record, and then every aiokafka and faust debug line is formatted (about a tenth of the
    # worker's CPU under load). This is a service, not a terminal: no spinner.
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
