"""The topic registry: every topic CityLoop uses, declared once, created idempotently."""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = structlog.get_logger(__name__)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    config: dict[str, str] = field(default_factory=dict)


TICKET_LIFECYCLE = TopicSpec("ticket.lifecycle", partitions=6, config={"retention.ms": str(30 * DAY_MS)})
DEPT_UPDATES = TopicSpec("dept.updates", partitions=6, config={"retention.ms": str(14 * DAY_MS)})
# Compacted: the latest state of every emergency survives, so a restarted service rebuilds its modes.
CONTROL_MODE = TopicSpec(
    "control.mode", partitions=1, config={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
)
# Internal to feedback: its stream worker's hot-spot counts, latest per key, for feedback's API to serve.
FEEDBACK_HOTSPOTS = TopicSpec(
    "feedback.hotspots", partitions=6, config={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
)
# Internal, router -> intake: the latest public offer of every category (Open311's services), keyed by code.
CATALOGUE_SERVICES = TopicSpec(
    "catalogue.services", partitions=1, config={"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
)
DLQ_CONFIG = {"retention.ms": str(90 * DAY_MS)}

STATIC_TOPICS: tuple[TopicSpec, ...] = (
    TICKET_LIFECYCLE,
    DEPT_UPDATES,
    CONTROL_MODE,
    FEEDBACK_HOTSPOTS,
    CATALOGUE_SERVICES,
)


def dlq(spec: TopicSpec) -> TopicSpec:
    return TopicSpec(f"{spec.name}.dlq", partitions=1, config=DLQ_CONFIG)


def dept_tasks(dept_code: str) -> TopicSpec:
    """One task topic per department, named ``dept.<dept_code>.tasks``."""
    # One partition: a department's system reads its tasks in one order, and the city has ~900 of them.
    return TopicSpec(f"dept.{dept_code}.tasks", partitions=1, config={"retention.ms": str(30 * DAY_MS)})


def dept_updates(dept_code: str) -> TopicSpec:
    """One updates topic per department, named ``dept.<dept_code>.updates``: the department's system is the
    only writer (broker ACLs, deploy/k8s/base/kafka/), so the topic names the sender."""
    return TopicSpec(f"dept.{dept_code}.updates", partitions=1, config=DEPT_UPDATES.config)


#: Router consumes every department's updates topic, present and future, by this pattern over logical names.
DEPT_UPDATES_PATTERN = r"dept\.[^.]+\.updates"


def department_topics(dept_code: str) -> list[TopicSpec]:
    """What a department needs: its tasks topic and its updates topic, created together."""
    return [dept_tasks(dept_code), dept_updates(dept_code)]


def _dept_part(name: str, suffix: str) -> str | None:
    code = name[len("dept.") : -len(suffix)] if name.startswith("dept.") and name.endswith(suffix) else ""
    return code if code and "." not in code else None


def sender_of(topic: str) -> str | None:
    """The department whose updates topic ``topic`` (a logical name) is; None for any other topic (the
    shared ``dept.updates`` of the first release among them)."""
    return _dept_part(topic, ".updates")


def all_topics(dept_codes: Iterable[str] = ()) -> list[TopicSpec]:
    specs = list(STATIC_TOPICS)
    specs += [dlq(s) for s in STATIC_TOPICS]
    specs += [spec for code in dept_codes for spec in department_topics(code)]
    return specs


def spec_for(name: str) -> TopicSpec | None:
    """The declared spec of a logical topic name (static, DLQ, a department's tasks or updates), else None."""
    for spec in all_topics():
        if spec.name == name:
            return spec
    if (code := _dept_part(name, ".tasks")) is not None:
        return dept_tasks(code)
    if (code := sender_of(name)) is not None:
        return dept_updates(code)
    return None


def companions(name: str) -> list[str]:
    """Topics created along with ``name``: a department's updates topic with its tasks topic, so the first
    task a department gets finds the topic for its answer already there (it may not create topics)."""
    code = _dept_part(name, ".tasks")
    return [dept_updates(code).name] if code is not None else []


class TopicProvisioner:
    """Creates a declared topic the first time something is published to it: a department that appears
    in a new master-data version gets its task topic without a restart, and a process that publishes to a
    few departments never needs all ~900 topics created up front. One admin call per new name per process."""

    def __init__(
        self,
        create: Callable[[list[TopicSpec]], Awaitable[object]],
        existing: Callable[[], Awaitable[set[str]]] | None = None,
    ) -> None:
        self._create = create
        #: The topics on the broker (logical names), listed once when the first unknown name comes: without
        #: it, every department's first task meant an admin call listing every topic (~2,300 in a city), which
        #: was 14 % of router's CPU under load.
        self._existing = existing
        self._known: set[str] = set()

    @classmethod
    def on_broker(
        cls, bootstrap: str, prefix: str, *, replication_factor: int = 1, options: Mapping[str, Any] | None = None
    ) -> "TopicProvisioner":
        """One for this deployment's topics on ``bootstrap`` (the runtime's relay and relay_process.py)."""
        return cls(
            lambda specs: ensure_topics(
                bootstrap, prefix, specs, replication_factor=replication_factor, options=options
            ),
            lambda: existing_topics(bootstrap, prefix, options=options),
        )

    async def ensure(self, names: Iterable[str]) -> None:
        new = {n for n in names if n not in self._known}
        if new and self._existing is not None:
            self._known |= await self._existing()
            self._existing = None
            new -= self._known
        new |= {c for n in new for c in companions(n) if c not in self._known}
        if not new:
            return
        specs = [spec for n in sorted(new) if (spec := spec_for(n)) is not None]
        if specs:
            await self._create(specs)
        self._known |= new


def full_name(name: str, prefix: str) -> str:
    return f"{prefix}{name}"


async def ensure_topics(
    bootstrap: str,
    prefix: str,
    specs: Iterable[TopicSpec],
    *,
    replication_factor: int = 1,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Safe to run any time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(full_name(s.name, prefix), s.partitions, replication_factor, topic_configs=dict(s.config))
            for s in specs
            if full_name(s.name, prefix) not in existing
        ]
        created: list[str] = []
        for chunk_start in range(0, len(missing), 200):
            chunk = missing[chunk_start : chunk_start + 200]
            try:
                await admin.create_topics(chunk)
                created += [t.name for t in chunk]
            except TopicAlreadyExistsError:
                # Another process raced us; the topics exist, which is all we want.
                pass
        if created:
            log.info("topics.created", count=len(created))
        return created
    finally:
        await admin.close()


async def existing_topics(bootstrap: str, prefix: str, *, options: Mapping[str, Any] | None = None) -> set[str]:
    """The logical names of this deployment's topics on the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}))
    await admin.start()
    try:
        return {t[len(prefix) :] for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> None:
    """Used by the test suite to leave the shared broker as it found it."""
    if not prefix:
        raise ValueError("refusing to delete topics without a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
