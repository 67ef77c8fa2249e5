"""The dead-letter queues as an operator's tool: ``python -m cityloop.common.dlq list|show|replay|discard``.

A DLQ (``<topic>.dlq``, written by kafka/consumer.py) holds each event that could not be processed, with
its reason in headers. After a fix, ``replay`` sends selected events back to the topic they came from
(the ``cityloop-dlq-source`` header); the consumer's inbox makes a second replay a no-op. ``discard``
moves the operator group's committed offset past an entry (and everything before it on that partition), so
``list`` stops showing what was dealt with; the DLQ itself is never rewritten. Every action is logged
with the operator's name.
"""

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from cityloop.common.kafka.connection import client_options
from cityloop.common.logging import configure_logging
from cityloop.common.settings import CommonSettings
from cityloop.common.topics import full_name

log = structlog.get_logger(__name__)

#: The operator's consumer group per DLQ: its committed offsets mark what was discarded.
OPERATOR_GROUP = "cityloop.dlq-operator"
REPLAYED_BY = "cityloop-dlq-replayed-by"


@dataclass(frozen=True)
class Entry:
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: bytes

    @property
    def reason(self) -> str:
        return self.headers.get("cityloop-dlq-reason", "")

    @property
    def consumer(self) -> str:
        return self.headers.get("cityloop-dlq-consumer", "")

    @property
    def event_id(self) -> str | None:
        return self.headers.get("cityloop-dlq-event-id")

    @property
    def source_topic(self) -> str | None:
        """The full name of the topic the event was read from (``topic/partition/offset`` in the header)."""
        source = self.headers.get("cityloop-dlq-source")
        return source.rsplit("/", 2)[0] if source else None

    @property
    def event(self) -> dict[str, Any] | None:
        try:
            parsed = json.loads(self.value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def summary(self) -> dict[str, Any]:
        event = self.event or {}
        return {
            "partition": self.partition,
            "offset": self.offset,
            "event_id": self.event_id,
            "type": event.get("type"),
            "key": self.key,
            "consumer": self.consumer,
            "source": self.headers.get("cityloop-dlq-source"),
            "reason": self.reason,
        }


def select(entries: Sequence[Entry], *, offsets: Sequence[str], event_ids: Sequence[str], every: bool) -> list[Entry]:
    """The entries an operator named: ``offsets`` as ``N`` or ``P:N`` (partition:offset), or event ids."""
    if every:
        return list(entries)
    wanted: list[Entry] = []
    for entry in entries:
        named = str(entry.offset) in offsets or f"{entry.partition}:{entry.offset}" in offsets
        if named or (entry.event_id is not None and entry.event_id in event_ids):
            wanted.append(entry)
    return wanted


class Dlq:
    """One DLQ topic (``topic`` is the logical name of the source topic or of the DLQ itself)."""

    def __init__(self, settings: CommonSettings, topic: str) -> None:
        self._settings = settings
        logical = topic if topic.endswith(".dlq") else f"{topic}.dlq"
        self.topic = full_name(logical, settings.topic_prefix)
        self.group = f"{settings.topic_prefix}{OPERATOR_GROUP}"

    def _consumer(self) -> AIOKafkaConsumer:
        s = self._settings
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_options(s),
        )

    async def entries(self) -> list[Entry]:
        """Every entry after the operator group's committed offsets (all of them if nothing was discarded)."""
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = [
                TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or set())
            ]
            if not partitions:
                await consumer._client.force_metadata_update()  # the first call may predate metadata
                partitions = [
                    TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or set())
                ]
            if not partitions:
                raise SystemExit(f"no such DLQ topic: {self.topic}")
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            found: list[Entry] = []
            for tp in partitions:
                committed = await consumer.committed(tp)
                consumer.seek(tp, committed if committed is not None else 0)
                while await consumer.position(tp) < ends[tp]:
                    for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                        if record.offset >= ends[tp]:
                            break
                        found.append(
                            Entry(
                                partition=tp.partition,
                                offset=record.offset,
                                key=record.key.decode(errors="replace") if record.key else None,
                                headers={k: v.decode(errors="replace") for k, v in record.headers},
                                value=record.value or b"",
                            )
                        )
            return found
        finally:
            await consumer.stop()

    async def replay(self, entries: Sequence[Entry], *, operator: str) -> list[Entry]:
        """Send ``entries`` back to their source topics, unchanged but for a header naming the operator."""
        s = self._settings
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", **client_options(s))
        await producer.start()
        replayed: list[Entry] = []
        try:
            for entry in entries:
                if entry.source_topic is None:
                    log.warning("dlq.replay_skipped", dlq=self.topic, offset=entry.offset, reason="no source header")
                    continue
                headers = [("content-type", b"application/cloudevents+json"), (REPLAYED_BY, operator.encode())]
                await producer.send_and_wait(
                    entry.source_topic,
                    entry.value,
                    key=entry.key.encode() if entry.key is not None else None,
                    headers=headers,
                )
                replayed.append(entry)
                log.info(
                    "dlq.replayed",
                    operator=operator,
                    dlq=self.topic,
                    partition=entry.partition,
                    offset=entry.offset,
                    event_id=entry.event_id,
                    to=entry.source_topic,
                )
        finally:
            await producer.stop()
        return replayed

    async def discard(self, entries: Sequence[Entry], *, operator: str) -> None:
        """Stop listing ``entries``: the operator group's offset moves past the last one on each partition
        (so whatever precedes it on that partition is passed over too)."""
        through: dict[int, int] = {}
        for entry in entries:
            through[entry.partition] = max(through.get(entry.partition, -1), entry.offset)
        if not through:
            return
        consumer = self._consumer()
        await consumer.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in through]
            consumer.assign(partitions)
            await consumer.commit(
                {
                    TopicPartition(self.topic, p): OffsetAndMetadata(o + 1, f"discarded by {operator}")
                    for p, o in through.items()
                }
            )
        finally:
            await consumer.stop()
        for entry in entries:
            log.info(
                "dlq.discarded",
                operator=operator,
                dlq=self.topic,
                partition=entry.partition,
                offset=entry.offset,
                event_id=entry.event_id,
                reason=entry.reason,
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cityloop.common.dlq", description=__doc__.splitlines()[0])
    parser.add_argument("--operator", default=None, help="who is acting (logged); default: the OS user")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="one line per entry not yet discarded")
    listing.add_argument("topic", help="source topic (e.g. dept.updates) or its DLQ (dept.updates.dlq)")
    for name, text in (
        ("show", "each selected entry in full: headers and event"),
        ("replay", "send selected entries back to their source topic"),
        ("discard", "stop listing selected entries (and those before them on their partition)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("topic")
        command.add_argument("--offset", action="append", default=[], help="N or PARTITION:N; repeatable")
        command.add_argument("--event-id", action="append", default=[], help="repeatable")
        command.add_argument("--all", action="store_true", dest="every", help="every entry listed")
    return parser


async def run(argv: Sequence[str], settings: CommonSettings | None = None) -> int:
    args = _parser().parse_args(argv)
    operator = args.operator or getpass.getuser()
    dlq = Dlq(settings or CommonSettings(), args.topic)
    entries = await dlq.entries()
    log.info("dlq.command", operator=operator, command=args.command, dlq=dlq.topic, entries=len(entries))
    if args.command == "list":
        for entry in entries:
            print(json.dumps(entry.summary(), ensure_ascii=False))
        return 0
    chosen = select(entries, offsets=args.offset, event_ids=args.event_id, every=args.every)
    if not chosen:
        print("nothing selected: name entries with --offset, --event-id or --all", file=sys.stderr)
        return 2
    if args.command == "show":
        for entry in chosen:
            shown = {
                **entry.summary(),
                "headers": entry.headers,
                "event": entry.event or entry.value.decode(errors="replace"),
            }
            print(json.dumps(shown, ensure_ascii=False))  # one line per entry: pipe to jq
    elif args.command == "replay":
        for entry in await dlq.replay(chosen, operator=operator):
            print(json.dumps({"replayed": entry.summary()}, ensure_ascii=False))
    else:
        await dlq.discard(chosen, operator=operator)
        for entry in chosen:
            print(json.dumps({"discarded": entry.summary()}, ensure_ascii=False))
    return 0


def main() -> None:
    settings = CommonSettings()
    configure_logging("dlq", level=settings.log_level, json=settings.log_json)
    raise SystemExit(asyncio.run(run(sys.argv[1:], settings)))


if __name__ == "__main__":
    main()
