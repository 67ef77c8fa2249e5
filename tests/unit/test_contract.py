"""The typed contract: every type registered with its model and topic, one emitter, one parser."""

from datetime import UTC, datetime

import pytest

from cityloop.common.contract import types
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import DeptStep, Dispatched, Lifecycle, Split
from cityloop.common.contract.models import DeptRejected, DeptUpdate, TaskWithdrawn, TicketStatus, Urgency
from cityloop.common.contract.parsing import SchemaError, parse, parse_as, parse_lifecycle
from cityloop.common.contract.registry import (
    DEPT_TASKS,
    LIFECYCLE,
    TOPIC_FAMILIES,
    ContractError,
    all_specs,
    register,
    spec_of,
)
from cityloop.common.envelope import CloudEvent

ROUTER = Emitter(source="/cityloop/router", actor="router")


def _declared_types() -> set[str]:
    return {v for k, v in vars(types).items() if k.isupper() and isinstance(v, str)}


def test_every_declared_type_is_registered_once_with_a_topic_and_a_description() -> None:
    registered = {s.type for s in all_specs()}
    assert _declared_types() - registered == set()
    for spec in all_specs():
        assert spec.topics
        assert set(spec.topics) <= set(TOPIC_FAMILIES)
        assert spec.description
        assert (spec.detail is not None) == (spec.topics == (LIFECYCLE,))


def test_department_updates_are_accepted_and_tasks_produced() -> None:
    assert {s.direction for s in all_specs() if s.type.startswith("cityloop.dept.")} == {"accepted"}
    assert {s.direction for s in all_specs() if not s.type.startswith("cityloop.dept.")} == {"produced"}


def test_a_second_different_registration_is_refused() -> None:
    with pytest.raises(ContractError, match="twice"):
        register(types.TASK_WITHDRAWN, DeptStep, topics=DEPT_TASKS, description="wrong")
    with pytest.raises(ContractError, match="topic family"):
        register("cityloop.test.nowhere", DeptStep, topics="dept.everything", description="x")


def _dispatched() -> Dispatched:
    return Dispatched(dept_code="pd-sanitation", assignment_id="A-1", category="sanitation.garbage", urgency="normal")


def test_lifecycle_keeps_the_wire_shape() -> None:
    event = ROUTER.lifecycle(types.TICKET_DISPATCHED, "T1", TicketStatus.DISPATCHED, "dispatched", _dispatched())
    assert event.source == "/cityloop/router"
    assert event.subject == "T1"
    assert set(event.data) == {"ticket_id", "status", "actor", "summary", "detail"}
    assert event.data["actor"] == "router"
    assert event.data["status"] == "dispatched"
    assert event.data["detail"]["dept_code"] == "pd-sanitation"
    again = parse_lifecycle(CloudEvent.from_bytes(event.to_bytes()), Dispatched)
    assert again.detail == _dispatched()
    assert again.detail.urgency is Urgency.NORMAL


def test_emitter_refuses_a_model_that_is_not_the_registered_one() -> None:
    with pytest.raises(ContractError, match="Dispatched, not Split"):
        ROUTER.lifecycle(types.TICKET_DISPATCHED, "T1", None, "x", Split(case_id="C-1"))
    with pytest.raises(ContractError, match="not a registered"):
        ROUTER.lifecycle("cityloop.ticket.teleported", "T1", None, "x", Split(case_id="C-1"))
    withdrawn = TaskWithdrawn(ticket_id="T1", assignment_id="A-1", dept_code="d", reason="r")
    assert ROUTER.event(types.TASK_WITHDRAWN, withdrawn, subject="T1").data == withdrawn.model_dump(mode="json")
    with pytest.raises(ContractError, match=r"not a ticket\.lifecycle type"):
        ROUTER.lifecycle(types.TASK_WITHDRAWN, "T1", None, "x", Split(case_id="C-1"))
    with pytest.raises(ContractError, match="TaskWithdrawn, not Split"):
        ROUTER.event(types.TASK_WITHDRAWN, Split(case_id="C-1"), subject="T1")
    with pytest.raises(ContractError, match="does not travel on"):
        ROUTER.task(
            types.TICKET_SPLIT, Lifecycle[Split](ticket_id="T1", actor="a", summary="s", detail=Split(case_id="C"))
        )


def test_task_is_keyed_by_its_ticket_and_keeps_given_id_and_time() -> None:
    at = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    withdrawn = TaskWithdrawn(ticket_id="T9", assignment_id="A-1", dept_code="d", reason="r")
    event = ROUTER.task(types.TASK_WITHDRAWN, withdrawn, event_id="fixed-id", time=at)
    assert (event.subject, event.id, event.time) == ("T9", "fixed-id", at)
    assert parse(event) == withdrawn


def _raw(type_: str, data: dict[str, object]) -> CloudEvent:
    return CloudEvent(type=type_, source="/test", subject="T1", data=data)


def test_a_missing_field_names_the_field() -> None:
    detail = _dispatched().model_dump(mode="json")
    del detail["assignment_id"]
    event = _raw(types.TICKET_DISPATCHED, {"ticket_id": "T1", "actor": "router", "summary": "s", "detail": detail})
    with pytest.raises(SchemaError) as caught:
        parse(event)
    assert caught.value.reason == "schema: detail.assignment_id: Field required"


def test_a_wrong_field_names_the_field_and_an_unknown_type_fails() -> None:
    event = _raw(types.DEPT_EXTENSION_REQUESTED, {"ticket_id": "T1", "assignment_id": "A", "dept_code": "d"})
    with pytest.raises(SchemaError, match="requested_deadline: Field required"):
        parse(event)
    event = _raw(types.DEPT_REJECTED, {"ticket_id": "T1", "assignment_id": "A", "dept_code": "d", "reason": " "})
    with pytest.raises(SchemaError, match="reason: Value error, a rejection"):
        parse(event)
    with pytest.raises(SchemaError, match="unknown event type"):
        parse(_raw("cityloop.ticket.teleported", {}))


def test_a_departments_text_is_stored_without_control_characters() -> None:
    base = {"ticket_id": "T1", "assignment_id": "A", "dept_code": "d"}
    accepted = parse_as(_raw(types.DEPT_ACCEPTED, {**base, "note": "再次\x00派人\x01处理\n明天"}), DeptUpdate)
    assert accepted.note == "再次派人处理\n明天"
    rejected = parse_as(
        _raw(types.DEPT_REJECTED, {**base, "reason": "不归\x0b我们", "suggested_dept": "x"}), DeptRejected
    )
    assert rejected.reason == "不归我们"
    with pytest.raises(SchemaError, match="reason: Value error, a rejection"):
        parse(_raw(types.DEPT_REJECTED, {**base, "reason": "\x00\x01", "suggested_dept": "x"}))


def test_unknown_extra_fields_are_ignored() -> None:
    step = {"dept_code": "d", "assignment_id": "A", "role": "lead", "added_in_v9": {"x": 1}}
    event = _raw(types.TICKET_ACCEPTED, {"ticket_id": "T1", "actor": "a", "summary": "s", "detail": step, "more": 1})
    data = parse_lifecycle(event, DeptStep)
    assert data.detail == DeptStep(dept_code="d", assignment_id="A", role="lead")


def test_spec_of_finds_types_registered_in_any_contract_module() -> None:
    spec = spec_of(types.CALLBACK_OPENED)
    assert spec is not None
    assert spec.detail is not None
    assert spec.detail.__name__ == "CallbackOpened"
