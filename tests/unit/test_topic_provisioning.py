"""Declared topics are created on first publish: the spec comes from the registry, once per name."""

import re

from cityloop.common.topics import (
    DEPT_UPDATES,
    DEPT_UPDATES_PATTERN,
    TopicProvisioner,
    TopicSpec,
    dept_tasks,
    dept_updates,
    sender_of,
    spec_for,
)


def test_spec_for_knows_static_dlq_and_department_topics() -> None:
    assert spec_for("dept.updates") == DEPT_UPDATES
    dlq = spec_for("dept.updates.dlq")
    assert dlq is not None
    assert dlq.partitions == 1
    assert spec_for("dept.pd-sanitation.tasks") == dept_tasks("pd-sanitation")
    assert spec_for("dept.pd-sanitation.updates") == dept_updates("pd-sanitation")
    assert spec_for("dept..tasks") is None
    assert spec_for("dept..updates") is None
    assert spec_for("something.else") is None


def test_the_sender_is_read_from_a_department_updates_topic_only() -> None:
    assert sender_of("dept.pd-sanitation.updates") == "pd-sanitation"
    assert sender_of("dept.updates") is None  # the shared topic of the first release names no one
    assert sender_of("dept.a.b.updates") is None
    assert sender_of("dept.pd-sanitation.tasks") is None
    assert sender_of("dept.pd-sanitation.updates.dlq") is None


def test_the_pattern_matches_every_department_updates_topic_and_nothing_else() -> None:
    pattern = re.compile(f"(?:{DEPT_UPDATES_PATTERN})$")
    assert pattern.match("dept.pd-s01.updates")
    for other in ("dept.updates", "dept.updates.dlq", "dept.pd-s01.tasks", "dept.a.updates.dlq", "dept.a.b.updates"):
        assert not pattern.match(other), other


async def test_provisioner_creates_each_declared_topic_once() -> None:
    created: list[list[TopicSpec]] = []

    async def create(specs: list[TopicSpec]) -> None:
        created.append(specs)

    provisioner = TopicProvisioner(create)
    await provisioner.ensure({"dept.a.tasks", "dept.updates", "not.declared"})
    await provisioner.ensure({"dept.a.tasks", "dept.b.tasks"})
    await provisioner.ensure({"dept.b.tasks"})
    # A department's updates topic comes with its tasks topic: the department may not create topics.
    assert [[s.name for s in batch] for batch in created] == [
        ["dept.a.tasks", "dept.a.updates", "dept.updates"],
        ["dept.b.tasks", "dept.b.updates"],
    ]


async def test_provisioner_lists_the_broker_once_and_creates_only_what_is_missing() -> None:
    created: list[list[str]] = []
    listings = 0

    async def create(specs: list[TopicSpec]) -> None:
        created.append([s.name for s in specs])

    async def existing() -> set[str]:
        nonlocal listings
        listings += 1
        return {"dept.a.tasks", "dept.a.updates", "dept.b.tasks", "dept.b.updates"}

    provisioner = TopicProvisioner(create, existing)
    await provisioner.ensure({"dept.a.tasks"})
    await provisioner.ensure({"dept.b.tasks", "dept.c.tasks"})
    await provisioner.ensure({"dept.c.tasks", "dept.a.tasks"})
    assert listings == 1
    assert created == [["dept.c.tasks", "dept.c.updates"]]
