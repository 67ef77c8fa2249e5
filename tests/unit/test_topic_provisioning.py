"""Declared topics are created on first publish: the spec comes from the registry, once per name."""

from cityloop.common.topics import DEPT_UPDATES, TopicProvisioner, TopicSpec, dept_tasks, spec_for


def test_spec_for_knows_static_dlq_and_department_topics() -> None:
    assert spec_for("dept.updates") == DEPT_UPDATES
    dlq = spec_for("dept.updates.dlq")
    assert dlq is not None
    assert dlq.partitions == 1
    assert spec_for("dept.pd-sanitation.tasks") == dept_tasks("pd-sanitation")
    assert spec_for("dept..tasks") is None
    assert spec_for("something.else") is None


async def test_provisioner_creates_each_declared_topic_once() -> None:
    created: list[list[TopicSpec]] = []

    async def create(specs: list[TopicSpec]) -> None:
        created.append(specs)

    provisioner = TopicProvisioner(create)
    await provisioner.ensure({"dept.a.tasks", "dept.updates", "not.declared"})
    await provisioner.ensure({"dept.a.tasks", "dept.b.tasks"})
    await provisioner.ensure({"dept.b.tasks"})
    assert [[s.name for s in batch] for batch in created] == [["dept.a.tasks", "dept.updates"], ["dept.b.tasks"]]
