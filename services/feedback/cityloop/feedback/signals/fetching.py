"""How the worker's consumer fetches: in batches that wait a little for data, not one request per record.

faust builds its aiokafka consumer with ``fetch_min_bytes=1`` and offers no setting for it, so the broker
answers a fetch as soon as one record is there. ticket.lifecycle carries ~10 events a ticket from four
services' relays: at 25 tickets/s that was ~35 fetch requests a second, each one a request, a response, a
hand-over from faust's consumer thread to the event loop and a wake-up of every stream on the way, for a
few records (half of the worker's CPU). Asking the broker for at least ``fetch_min_bytes``, or whatever
it has after ``fetch_max_wait``, fetches the same records in a few requests a second; the price is at most
``fetch_max_wait`` of latency per hop (ticket.lifecycle, then the sightings topic), while hot spots are
published every few seconds anyway. Nothing else changes: the same records, in the same order, committed
the same way."""

from typing import Any, Protocol, cast

import aiokafka
from faust.transport.drivers import aiokafka as driver


class FetchTuning(Protocol):
    """What the app's consumer asks of each fetch (app.SignalsApp carries it)."""

    fetch_min_bytes: int
    fetch_max_wait_ms: int


def tune(consumer: aiokafka.AIOKafkaConsumer, tuning: FetchTuning) -> aiokafka.AIOKafkaConsumer:
    """The consumer with the app's fetch sizes: aiokafka keeps its constructor's fetch arguments in these
    attributes and hands them to its fetcher at start (tests/unit/signals/test_fetching.py pins that)."""
    consumer._fetch_min_bytes = tuning.fetch_min_bytes  # faust passes no such argument
    consumer._fetch_max_wait_ms = tuning.fetch_max_wait_ms
    return consumer


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        return tune(super()._create_worker_consumer(transport), cast(FetchTuning, self.app))


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    """faust's aiokafka transport with the consumer above."""

    Consumer = Consumer
