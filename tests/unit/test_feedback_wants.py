"""Which lifecycle events feedback's consumers take at all (``wants``): the ones their handlers act on,
passed over before any database work otherwise, and a malformed one still taken (its parsing names the
field for the DLQ)."""

from datetime import UTC, datetime

from cityloop.common.contract import types
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.callbacks import flows as callbacks
from cityloop.feedback.scores import facts as scores

AT = datetime(2026, 7, 15, 10, 30, tzinfo=UTC)


def event(type_: str, status: str | None = None, **detail: object) -> CloudEvent:
    data = {"ticket_id": "T1", "status": status, "actor": "test", "summary": "", "detail": detail}
    return CloudEvent(type=type_, source="/test", subject="T1", data=data)


def test_callbacks_take_deadlines_only_when_they_set_the_callback_clock() -> None:
    accept = event(types.SLA_DEADLINES_SET, deadlines={"accept": AT.isoformat(), "resolve": AT.isoformat()})
    callback = event(types.SLA_DEADLINES_SET, deadlines={"callback": AT.isoformat()})
    assert not callbacks.wants(accept)
    assert callbacks.wants(callback)
    assert callbacks.wants(event(types.SLA_DEADLINES_SET, deadlines="soon"))  # malformed: to the handler
    assert callbacks.wants(event(types.TICKET_DISPATCHED))
    assert not callbacks.wants(event(types.TICKET_CREATED, status="received"))


def test_scores_take_a_creation_only_when_it_was_closed_on_the_spot() -> None:
    assert not scores.wants(event(types.TICKET_CREATED, status="received"))
    assert scores.wants(event(types.TICKET_CREATED, status="closed"))  # 直接答复: excluded from the rates
    assert scores.wants(event(types.TICKET_CREATED, status="nonsense"))  # malformed: to the handler
    assert scores.wants(event(types.SLA_DEADLINES_SET, deadlines={"accept": AT.isoformat()}))
