"""The worker's consumer fetches in batches (signals/fetching.py): the aiokafka consumer faust builds for it
carries the worker's fetch settings, in the attributes aiokafka's own constructor fills and its fetcher reads."""

import aiokafka

from cityloop.feedback.signals.app import create_app
from cityloop.feedback.signals.fetching import ConsumerThread
from cityloop.feedback.signals.settings import SignalsSettings


async def test_aiokafka_keeps_its_fetch_arguments_where_the_worker_sets_them() -> None:
    consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_min_bytes=7, fetch_max_wait_ms=9)
    assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (7, 9)


async def test_the_workers_consumer_waits_for_its_fetch_size_or_its_fetch_wait() -> None:
    settings = SignalsSettings(topic_prefix="fetching-test.", fetch_min_bytes=123_456, fetch_max_wait_seconds=0.25)
    app = create_app(settings)
    thread = app.consumer._thread  # type: ignore[attr-defined]  # faust's consumer runs in a thread of its own
    assert isinstance(thread, ConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (123_456, 250)
    # Everything else is faust's: its group, no auto commit.
    assert (consumer._group_id, consumer._enable_auto_commit) == ("fetching-test.cityloop.feedback.signals", False)
