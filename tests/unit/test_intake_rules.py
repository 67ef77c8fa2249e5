"""Intake's pure rules: masking, access, projection, cursors, tokens, Open311 checks and documents."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import (
    ClockStep,
    Closed,
    DeadlinesSet,
    Detail,
    Dispatched,
    Lifecycle,
    Merged,
    Rejected,
    RoutedLocation,
)
from cityloop.common.contract.models import GridChain, TaskMode, TicketStatus
from cityloop.common.identity import Identity, Role
from cityloop.intake.access.rules import TicketAccess, department_scope, may_see_personal_data, may_see_ticket
from cityloop.intake.accounts.credentials import InvalidCredentials, issue_token, read_token
from cityloop.intake.masking import mask_address, mask_email, mask_id_number, mask_name, mask_phone
from cityloop.intake.open311.documents import Attribute, AttributeValue, Error, Service, render
from cityloop.intake.open311.rules import check_attributes, read_form, request_window, to_ticket
from cityloop.intake.presenting import is_overdue
from cityloop.intake.trail.projection import next_status, project

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SECRET = "unit-test-secret-0123456789-0123456789"


def test_masks_keep_only_what_identifies_nobody() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_name("张三") == "张*"
    assert mask_id_number("310101199001011234") == "310**************4"
    assert mask_email("xiaoming@example.cn") == "x***@example.cn"
    assert mask_address("黄浦区人民大道200号") == "黄浦区人民大道***"  # down to the road, never the number
    assert mask_phone(None) is None


def test_who_sees_what() -> None:
    access = TicketAccess(created_by="ct1", depts_ever=frozenset({"a", "b"}), depts_now=frozenset({"b"}))
    dept_a = Identity(subject="a1", role=Role.DEPARTMENT, dept_code="a")
    dept_b = Identity(subject="b1", role=Role.DEPARTMENT, dept_code="b")
    dept_c = Identity(subject="c1", role=Role.DEPARTMENT, dept_code="c")
    assert may_see_ticket(dept_a, access)
    assert not may_see_ticket(dept_c, access)
    assert not may_see_personal_data(dept_a, access)  # held it before, not now
    assert may_see_personal_data(dept_b, access)
    assert may_see_personal_data(Identity(subject="ct1", role=Role.CALL_TAKER), access)
    assert not may_see_personal_data(Identity(subject="ct2", role=Role.CALL_TAKER), access)
    for role in (Role.DISPATCHER, Role.COMMAND_CENTRE, Role.AUDITOR):
        assert not may_see_personal_data(Identity(subject="x", role=role), access)
    assert department_scope(dept_a) == "a"
    assert department_scope(Identity(subject="d", role=Role.DISPATCHER)) is None
    assert department_scope(Identity(subject="d", role=Role.DEPARTMENT)) not in {None, ""}


def _event(status: TicketStatus | None, detail: Detail) -> Lifecycle[Detail]:
    return Lifecycle[Detail](ticket_id="T1", status=status, actor="router", summary="s", detail=detail)


def test_projection_of_lifecycle_events() -> None:
    dispatched = project(
        types.TICKET_DISPATCHED,
        _event(
            TicketStatus.DISPATCHED,
            Dispatched(
                dept_code="pd-x",
                dept_name="浦东新区X局",
                assignment_id="A1",
                category="c",
                urgency="normal",
                location=RoutedLocation(chain=GridChain(district="pd", street="s1")),
                mode=TaskMode(kind="emergency", emergency_id="E-1"),
                deadlines={"resolve_by": NOW},
            ),
        ),
        TicketStatus.RECEIVED,
    )
    assert dispatched.status is TicketStatus.DISPATCHED
    assert (dispatched.dept_code, dispatched.district, dispatched.street, dispatched.mode) == (
        "pd-x",
        "pd",
        "s1",
        "emergency",
    )
    assert dispatched.emergency_id == "E-1"
    # Open311's agency_responsible is the department's name, not its code.
    assert dispatched.agency == "浦东新区X局"
    assert [a.assignment_id for a in dispatched.assign] == ["A1"]
    assert dispatched.resolve_by == NOW
    merged = project(
        types.TICKET_MERGED,
        _event(
            TicketStatus.DISPATCHED,
            Merged(case_id="C-1", merged_into="T0", dept_code="pd-x", dept_name="浦东新区X局", assignment_id="A0"),
        ),
        TicketStatus.RECEIVED,
    )
    assert (merged.dept_code, merged.agency, merged.mode) == ("pd-x", "浦东新区X局", None)
    assert merged.end_assignments == []
    # The case re-dispatched: the merged ticket shows the new lead, and the old lead's hold ends.
    restated = project(
        types.TICKET_MERGED,
        _event(
            TicketStatus.DISPATCHED,
            Merged(
                case_id="C-1",
                merged_into="T0",
                dept_code="pd-y",
                dept_name="浦东新区Y局",
                assignment_id="A2",
                replaces=["A0"],
            ),
        ),
        TicketStatus.ACCEPTED,
    )
    assert (restated.dept_code, restated.agency, restated.status) == ("pd-y", "浦东新区Y局", TicketStatus.DISPATCHED)
    assert [a.assignment_id for a in restated.assign] == ["A2"]
    assert restated.end_assignments == ["A0"]
    # sla owns deadlines: the ticket shows every one it set.
    later = NOW + timedelta(hours=1)
    deadlines = {"accept": NOW, "on_site": later, "resolve": later}
    stated = project(types.SLA_DEADLINES_SET, _event(None, DeadlinesSet(deadlines=deadlines)), TicketStatus.DISPATCHED)
    assert (stated.accept_by, stated.on_site_by, stated.resolve_by) == (NOW, later, later)
    rehandle = project(
        types.SLA_DEADLINES_SET, _event(None, DeadlinesSet(deadlines={"rehandle": later})), TicketStatus.DISPATCHED
    )
    assert (rehandle.resolve_by, rehandle.accept_by) == (later, None)
    rejected = project(
        types.TICKET_REJECTED,
        _event(
            TicketStatus.NEEDS_DISPATCHER,
            Rejected(dept_code="pd-x", assignment_id="A1", reason="not ours", suggested_dept="pd-y"),
        ),
        TicketStatus.DISPATCHED,
    )
    assert (rejected.end_assignment, rejected.release_dept) == ("A1", "pd-x")
    closed = project(types.TICKET_CLOSED, _event(TicketStatus.CLOSED, Closed()), TicketStatus.RESOLVED)
    assert closed.closed
    assert closed.end_all_assignments
    breached = ClockStep(kind="resolve", due_at=NOW, step="breach", scheduled_at=NOW, clock_id=1)
    assert project(types.SLA_BREACHED, _event(None, breached), TicketStatus.ACCEPTED).overdue is True


def test_a_closed_ticket_moves_only_when_reopened() -> None:
    assert next_status(TicketStatus.CLOSED, types.TICKET_DISPATCHED, TicketStatus.DISPATCHED) is None
    assert next_status(TicketStatus.CLOSED, types.TICKET_REOPENED, TicketStatus.DISPATCHED) is TicketStatus.DISPATCHED
    assert (
        next_status(TicketStatus.RECEIVED, types.TICKET_DISPATCHED, TicketStatus.DISPATCHED) is TicketStatus.DISPATCHED
    )


def test_overdue_rule() -> None:
    past = NOW - timedelta(hours=1)
    assert is_overdue(flagged=False, resolve_by=past, status="accepted", now=NOW)
    assert not is_overdue(flagged=False, resolve_by=past, status="resolved", now=NOW)
    assert is_overdue(flagged=True, resolve_by=None, status="closed", now=NOW)


def test_tokens_expire_and_are_bound_to_the_secret() -> None:
    identity = Identity(subject="d1", role=Role.DEPARTMENT, dept_code="pd-x")
    token = issue_token(identity, secret=SECRET, ttl_seconds=60)
    assert read_token(token, secret=SECRET) == identity
    with pytest.raises(InvalidCredentials, match="invalid token"):
        read_token(token, secret=SECRET + "x")
    old = issue_token(identity, secret=SECRET, ttl_seconds=60, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(InvalidCredentials, match="expired"):
        read_token(old, secret=SECRET)


SIZE = Attribute(
    variable=True,
    code="size",
    datatype="singlevaluelist",
    required=True,
    datatype_description=None,
    order=1,
    description="大小",
    values=[AttributeValue(key="small", name="小"), AttributeValue(key="large", name="大")],
)
KINDS = SIZE.model_copy(update={"code": "kinds", "datatype": "multivaluelist", "required": False, "order": 2})
WHEN = SIZE.model_copy(update={"code": "when", "datatype": "datetime", "required": False, "order": 3, "values": []})


def test_typed_attributes() -> None:
    form = read_form([("attribute[size]", "large"), ("attribute[kinds][]", "small"), ("attribute[kinds][]", "large")])
    assert check_attributes([SIZE, KINDS, WHEN], form.attributes) == (
        {"size": "large", "kinds": ["small", "large"]},
        [],
    )
    _, problems = check_attributes([SIZE, KINDS, WHEN], {"kinds": ["huge"], "when": ["tomorrow"], "x": ["1"]})
    assert problems == [
        "attribute[x] is not an attribute of this service",
        "attribute[size] is required (大小)",
        "attribute[kinds] has values not in the list: huge",
        "attribute[when] must be a W3C date-time, e.g. 2010-01-01T00:00:00Z",
    ]


def test_request_window_is_at_most_90_days() -> None:
    assert request_window(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    with pytest.raises(ValueError, match="90 days"):
        request_window(NOW - timedelta(days=91), NOW, NOW)
    with pytest.raises(ValueError, match="after"):
        request_window(NOW, NOW - timedelta(days=1), NOW)


def test_open311_arguments_become_a_ticket_or_named_problems() -> None:
    ticket, problems = to_ticket(read_form([("lat", "31.2"), ("long", "121.4"), ("phone", "13800000000")]), "s", "名")
    assert problems == []
    assert ticket is not None
    assert ticket.description == "名"
    _, problems = to_ticket(read_form([("lat", "abc"), ("long", "121.4")]), "s", "名")
    assert problems[0].startswith("lat: ")
    _, problems = to_ticket(read_form([("address_id", "A7")]), "s", "名")
    assert problems == ["address_id is not supported here; send lat & long or address_string"]


def test_documents_render_the_same_in_json_and_xml() -> None:
    service = Service(
        service_code="a", service_name="甲", description="d", metadata=True, type="realtime", keywords="k", group="g"
    )
    assert render([service], "json", kind=Service).startswith(b'[{"service_code":"a"')
    root = ET.fromstring(render([service], "xml", kind=Service))
    assert root.tag == "services"
    assert [(c.tag, c.text) for c in root[0]][3] == ("metadata", "true")
    errors = ET.fromstring(render([Error(code=403, description="api_key was not provided")], "xml", kind=Error))
    assert [(c.tag, c.text) for c in errors[0]] == [("code", "403"), ("description", "api_key was not provided")]
