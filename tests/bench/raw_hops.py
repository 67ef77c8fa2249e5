"""The end-to-end baseline: raw aiokafka moving the same payload through the same number of Kafka hops as a
ticket (client -> topic A, a forwarding process A -> B, a reader on B), with the producer settings the
services use (acks=all, idempotence, linger 2 ms; kafka/producer.py) and a consumer that commits after each
batch as the services' consumers do. No database, no parsing beyond what forwarding needs.

``python -m tests.bench.raw_hops forward BOOTSTRAP SOURCE TARGET``: the forwarding process.
"""

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def forward(bootstrap: str, source: str, target: str) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"{source}.forward",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await producer.start()
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, records in batches.items():
                futures = [await producer.send(target, r.value, key=r.key, headers=list(r.headers)) for r in records]
                await asyncio.gather(*futures)
                await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "forward":
        asyncio.run(forward(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit("usage: python -m tests.bench.raw_hops forward BOOTSTRAP SOURCE TARGET")
