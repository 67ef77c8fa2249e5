"""Re-homing builds its events as plain JSON (router/emergencies/wire.py); the contract check catches a
builder that drifts from the registered models."""

import time
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from cityloop.common.contract import types
from cityloop.common.contract.registry import ContractError
from cityloop.common.envelope import CloudEvent
from cityloop.common.personal.redaction import redact_fields
from cityloop.router.emergencies import wire


def test_event_ids_are_distinct_time_ordered_version_7_uuids() -> None:
    before = int(time.time() * 1000)
    ids = wire._ids(500)
    after = int(time.time() * 1000)
    assert len(set(ids)) == 500
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 7 for i in ids)
    # the first 48 bits are the time in milliseconds (RFC 9562), so later ids sort after earlier ones
    assert all(before <= int(i.replace("-", "")[:12], 16) <= after for i in ids)
    time.sleep(0.002)
    assert max(ids) < wire._ids(1)[0]


def test_a_built_event_reads_back_as_the_contract_event() -> None:
    w = wire.Wire("/cityloop/router", datetime.now(UTC))
    data = wire.task_withdrawn("T-1", "A-1", "pd-water", "stand-down: now handled under peacetime")
    w.add("dept.pd-water.tasks", types.TASK_WITHDRAWN, "T-1", data)
    topic, key, event_id, payload = w.rows[0]
    event = CloudEvent.from_bytes(payload)
    assert (topic, key, event.id, event.subject, event.type) == (
        "dept.pd-water.tasks",
        "T-1",
        event_id,
        "T-1",
        types.TASK_WITHDRAWN,
    )
    assert event.data == data
    assert orjson.loads(event.to_bytes()) == orjson.loads(payload)


def test_a_builder_that_drifts_from_the_contract_fails_loudly() -> None:
    w = wire.Wire("/cityloop/router", datetime.now(UTC))
    drifted = wire.task_updated(
        "T-1", "A-1", "pd-water", change="mode_changed", note="n", task_mode=wire.mode("emergency", "E-1")
    )
    drifted["dept"] = drifted.pop("dept_code")  # a required field renamed
    with pytest.raises(ContractError):
        w.add("dept.pd-water.tasks", types.TASK_UPDATED, "T-1", drifted)
    drifted["urgency"] = "high"  # a field the model does not have (yet)
    drifted["dept_code"] = drifted.pop("dept")
    with pytest.raises(ContractError):
        w.add("dept.pd-water.tasks", types.TASK_UPDATED, "T-1", drifted)


def test_an_optional_field_the_builder_does_not_know_goes_out_with_its_default() -> None:
    w = wire.Wire("/cityloop/router", datetime.now(UTC))
    data = wire.task_updated(
        "T-1", "A-1", "pd-water", change="mode_changed", note="n", task_mode=wire.mode("peacetime", None)
    )
    del data["deadlines"]
    w.add("dept.pd-water.tasks", types.TASK_UPDATED, "T-1", data)
    assert CloudEvent.from_bytes(w.rows[0][3]).data["deadlines"] is None


def test_redaction_is_the_emitters() -> None:
    data = {
        "summary": "市民13812345678来电",
        "detail": {"note": "联系 021-62345678", "why": {"reason": "身份证310101199001011234"}, "n": 3},
        "items": [{"description": "邮箱 a.b@example.com"}, "13812345678", {"code": "13812345678"}],
        "plain": {"note": "无个人信息"},
    }
    assert wire.redacted(data) == redact_fields(data)
    assert wire.redacted(data)["plain"] is data["plain"]  # untouched parts are not copied


def test_redacted_equals_redact_fields_on_every_kind_of_value() -> None:
    class Text(str):
        pass

    data = {
        "summary": "致电13812345678",
        "note": Text("身份证 110101199003077777"),
        "rule": "13812345678",
        "n": 3,
        "x": 1.5,
        "ok": True,
        "none": None,
        "list": ["13812345678", [{"reason": "卡号 6222020200112233445"}], 4],
        "deep": {"a": {"b": [{"comment": "邮箱 a.b@example.com", "code": "13812345678"}]}},
        "untouched": {"desks": ["pd-ops", "pd-water"], "level": "street"},
    }
    assert wire.redacted(data) == redact_fields(data)
    assert wire.redacted(data)["untouched"] is data["untouched"]
    assert wire.redacted(["a", {"description": "13812345678"}]) == redact_fields(["a", {"description": "13812345678"}])
