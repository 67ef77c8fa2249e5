"""A department's reply, read into its typed model and written to the trail as the typed detail."""

from datetime import UTC, datetime

import pytest

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import DeptStep, ExtensionRequested, Progress, Rejected
from cityloop.common.contract.parsing import SchemaError
from cityloop.common.envelope import CloudEvent
from cityloop.common.kafka.consumer import Refused
from cityloop.router.dept_updates.rules import parse, require_owner, step_detail, transition

IDS = {"ticket_id": "T1", "assignment_id": "A1", "dept_code": "pd-x"}


def reply(type_: str, **data: object) -> CloudEvent:
    return CloudEvent(type=type_, source="/dept", subject="T1", data={**IDS, **data})


def test_a_peacetime_rejection_without_a_suggested_owner_is_refused_naming_the_field() -> None:
    # The schema lets it through (under an emergency it is a note to the command, 先行处置) ...
    rejection = parse(reply(types.DEPT_REJECTED, reason="不归我们管"))
    # ... and the peacetime rule refuses it.
    with pytest.raises(Refused, match=r"^suggested_dept: required"):
        require_owner(rejection)
    require_owner(parse(reply(types.DEPT_REJECTED, reason="不归我们管", suggested_dept="pd-y")))
    with pytest.raises(SchemaError, match="reason"):
        parse(reply(types.DEPT_REJECTED, suggested_dept="pd-y"))
    with pytest.raises(Refused, match="unknown department update type"):
        parse(reply(types.TICKET_ACCEPTED))


def test_the_trail_detail_is_the_typed_model_of_the_lifecycle_type() -> None:
    at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    rejected = parse(reply(types.DEPT_REJECTED, reason="不归我们管", suggested_dept="pd-y"))
    _, lifecycle_type, _ = transition("assigned", types.DEPT_REJECTED)
    detail = step_detail(lifecycle_type, rejected, "lead", "rejected")
    assert detail == Rejected(**IDS_STEP, reason="不归我们管", suggested_dept="pd-y")
    extension = parse(reply(types.DEPT_EXTENSION_REQUESTED, requested_deadline=at.isoformat(), note="缺材料"))
    _, lifecycle_type, _ = transition("accepted", types.DEPT_EXTENSION_REQUESTED)
    assert step_detail(lifecycle_type, extension, "lead", "extension_requested") == ExtensionRequested(
        **IDS_STEP, note="缺材料", requested_deadline=at
    )
    # An assisting department's steps are progress on the ticket, saying which step it was.
    _, lifecycle_type, _ = transition("accepted", types.DEPT_RESOLVED, "assist")
    resolved = step_detail(lifecycle_type, parse(reply(types.DEPT_RESOLVED)), "assist", "resolved")
    assert resolved == Progress(**{**IDS_STEP, "role": "assist"}, update="resolved")
    on_site = step_detail(types.TICKET_PROGRESS, parse(reply(types.DEPT_PROGRESS, on_site=True)), "lead", "progress")
    assert isinstance(on_site, Progress)
    assert on_site.on_site is True
    accepted = step_detail(types.TICKET_ACCEPTED, parse(reply(types.DEPT_ACCEPTED)), "lead", "accepted")
    assert type(accepted) is DeptStep


IDS_STEP = {"dept_code": "pd-x", "assignment_id": "A1", "role": "lead"}
