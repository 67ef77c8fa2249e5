"""Event flow: consumed / produced per topic and type, dead-lettered by reason class, inbox duplicates,
consumer lag per group and partition. Called from kafka/consumer.py and outbox.py."""

import contextlib

from prometheus_client import Counter, Gauge

from cityloop.common.metrics.labels import event_type, topic_family

CONSUMED = Counter(
    "cityloop_events_consumed_by_type_total",
    "Events a consumer group read, by topic, CloudEvents type and outcome (applied, duplicate, skipped, dead_lettered)",
    ["consumer", "topic", "type", "outcome"],
)
PRODUCED = Counter(
    "cityloop_events_produced_total",
    "Events the outbox relay published, by topic and CloudEvents type",
    ["service", "topic", "type"],
)
DEAD_LETTERED = Counter(
    "cityloop_dlq_events_total",
    "Events sent to a *.dlq topic, by reason class (envelope, schema, refused, handler_error)",
    ["consumer", "topic", "reason_class"],
)
INBOX_DUPLICATES = Counter(
    "cityloop_inbox_duplicates_total",
    "Redelivered events the inbox recognised and skipped",
    ["consumer"],
)
CONSUMER_LAG = Gauge(
    "cityloop_consumer_lag",
    "Events in a partition the group has not consumed yet (last stable offset minus position)",
    ["group", "topic", "partition"],
)

REASON_CLASSES = ("envelope", "schema", "refused", "handler_error")


def consumed(consumer: str, topic: str, prefix: str, type_: str | None, outcome: str) -> None:
    CONSUMED.labels(consumer, topic_family(topic, prefix), event_type(type_), outcome).inc()
    if outcome == "duplicate":
        INBOX_DUPLICATES.labels(consumer).inc()


def dead_lettered(consumer: str, topic: str, prefix: str, reason_class: str) -> None:
    DEAD_LETTERED.labels(consumer, topic_family(topic, prefix), reason_class).inc()


def produced(service: str, topic: str, prefix: str, type_: str | None, n: int = 1) -> None:
    PRODUCED.labels(service, topic_family(topic, prefix), event_type(type_)).inc(n)


def lag(group: str, topic: str, prefix: str, partition: int, value: int) -> None:
    CONSUMER_LAG.labels(group, topic_family(topic, prefix), str(partition)).set(max(value, 0))


def forget_lag(group: str, topic: str, prefix: str, partition: int) -> None:
    with contextlib.suppress(KeyError):
        CONSUMER_LAG.remove(group, topic_family(topic, prefix), str(partition))
