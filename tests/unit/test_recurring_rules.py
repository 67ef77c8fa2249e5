"""Recurring problems: when a place and category recur, and what the proactive ticket says."""

from datetime import UTC, datetime, timedelta

from cityloop.feedback.recurring import proactive
from cityloop.feedback.recurring.rules import (
    Place,
    RecurringPolicy,
    is_dissatisfied,
    place_of,
    verdict,
    window_start,
)


def test_the_place_is_the_grid_else_the_street() -> None:
    assert place_of("hp-s05-c01-g01", "hp-s05") == Place("grid", "hp-s05-c01-g01")
    assert place_of(None, "hp-s05") == Place("street", "hp-s05")
    assert place_of(None, None) is None


def test_thresholds() -> None:
    assert verdict(2, 1) is None
    assert verdict(3, 0) == "requests"
    assert verdict(0, 2) == "dissatisfied"
    assert verdict(5, 2) == "dissatisfied"  # dissatisfaction is the stronger signal
    assert verdict(3, 0, RecurringPolicy(requests=4)) is None


def test_dissatisfied_means_not_solved_or_unsatisfied() -> None:
    assert is_dissatisfied(False, "satisfied")
    assert is_dissatisfied(True, "unsatisfied")
    assert not is_dissatisfied(True, "basically_satisfied")
    assert not is_dissatisfied(None, None)


def test_signals_before_the_last_proactive_ticket_do_not_count_again() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    assert window_start(now, None) == now - timedelta(days=30)
    converted = now - timedelta(days=3)
    assert window_start(now, converted) == converted
    assert window_start(now, now - timedelta(days=90)) == now - timedelta(days=30)


def test_the_proactive_ticket_is_at_the_place_and_of_the_category() -> None:
    problem = {
        "id": 7,
        "reason": "requests",
        "requests": 3,
        "dissatisfied": 0,
        "place_level": "grid",
        "place": "hp-s05-c01-g01",
        "category": "sanitation.garbage",
        "first_at": datetime(2026, 11, 1, tzinfo=UTC),
        "last_at": datetime(2026, 11, 3, tzinfo=UTC),
        "tickets": ["T1", "T2", "T3"],
        "address": "黄浦区某路1号",
        "lat": None,
        "lon": None,
    }
    body = proactive.ticket_body(problem, "dispatcher")  # type: ignore[arg-type]
    assert body["channel"] == "proactive"
    assert body["category"] == "sanitation.garbage"
    assert body["location"] == {"address": "黄浦区某路1号"}
    assert "主动发现" in body["description"]
    assert "T1, T2, T3" in body["description"]
