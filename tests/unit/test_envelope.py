from datetime import UTC, datetime

import pytest

from cityloop.common.envelope import CloudEvent, EnvelopeError, peek_type


def test_round_trip_keeps_every_attribute() -> None:
    event = CloudEvent(type="cityloop.ticket.created", source="/cityloop/intake", subject="T1", data={"a": 1})
    again = CloudEvent.from_bytes(event.to_bytes())
    assert again == event
    assert again.specversion == "1.0"
    assert again.datacontenttype == "application/json"
    assert again.time.tzinfo is not None


def test_each_event_gets_its_own_id() -> None:
    a = CloudEvent(type="t", source="/s", data={})
    b = CloudEvent(type="t", source="/s", data={})
    assert a.id != b.id


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty message"),
        (b"{not json", "not JSON"),
        (b'{"specversion": "0.3", "source": "/s", "type": "t"}', "specversion"),
        (b'{"specversion": "1.0", "type": "t"}', "source"),
        (b'{"specversion": "1.0", "source": "/s", "type": "t", "time": "2026-01-01T00:00:00"}', "offset"),
    ],
)
def test_broken_messages_say_what_is_wrong(raw: bytes, problem: str) -> None:
    with pytest.raises(EnvelopeError, match=problem):
        CloudEvent.from_bytes(raw)


def test_time_is_rfc3339_with_offset_on_the_wire() -> None:
    event = CloudEvent(source="/s", type="t", time=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert b'"time":"2026-11-22T08:00:00Z"' in event.to_bytes()


def test_peek_type_reads_the_top_level_type_of_a_serialised_event() -> None:
    event = CloudEvent(source="/t", type="cityloop.ticket.dispatched", subject="T-1", data={"type": "inner"})
    assert peek_type(event.to_bytes()) == "cityloop.ticket.dispatched"


def test_peek_type_gives_up_where_it_cannot_be_sure() -> None:
    # a "type" inside data, before the envelope's own: might be nested, so the caller must parse
    assert peek_type(b'{"data":{"type":"x"},"type":"y"}') is None
    assert peek_type(b'{"id":"[","type":"y"}') is None  # a bracket before it, even inside a string
    assert peek_type(b'{"type": "spaced"}') is None
    assert peek_type(b'{"type":"a\\"b"}') is None
    assert peek_type(b"not json") is None
    assert peek_type(None) is None
    assert peek_type(b'{"specversion":"1.0","type":"t"}') == "t"
