"""三率 arithmetic and scoping as pure functions: no broker, no database."""

from datetime import UTC, date, datetime

import pytest

from cityloop.common.identity import Identity, Role
from cityloop.feedback.scores.access import DeptArea, visible_keys
from cityloop.feedback.scores.rules import (
    CallbackFact,
    Counts,
    Exclusion,
    Level,
    Period,
    TaskState,
    callback_counts,
    city_day,
    composite,
    period_days,
    rank,
    rates,
    task_counts,
    task_transition,
)


def test_rates_follow_the_formulas() -> None:
    c = Counts(assigned=5, responded=3, callbacks=4, solved=3, satisfied=1, basically=2, unsatisfied=1)
    r = rates(c)
    assert r.response == pytest.approx(3 / 5)
    assert r.resolution == pytest.approx(3 / 4)
    # 基本满意 counts fully by default: (1 + 2) / 4
    assert r.satisfaction == pytest.approx(3 / 4)
    discounted = rates(c, basically_weight=0.8)
    assert discounted.satisfaction == pytest.approx((1 + 0.8 * 2) / 4)
    assert discounted.satisfaction_numerator == pytest.approx(2.6)


def test_no_denominator_means_no_rate_not_zero() -> None:
    r = rates(Counts(pending=4, unreachable=2))
    assert (r.response, r.resolution, r.satisfaction) == (None, None, None)
    assert composite(r) is None


def test_composite_weights_and_missing_rates() -> None:
    full = rates(Counts(assigned=10, responded=5, callbacks=2, solved=2, satisfied=1, unsatisfied=1))
    assert composite(full) == pytest.approx(0.1 * 0.5 + 0.45 * 1.0 + 0.45 * 0.5)
    # Only a response rate: it alone is the composite (weights rescaled).
    only_response = rates(Counts(assigned=4, responded=1))
    assert composite(only_response) == pytest.approx(0.25)


def test_rank_is_competition_ranking_and_unscored_items_are_unranked() -> None:
    assert rank({"a": 0.5, "b": 0.9, "c": 0.5, "d": 0.1, "e": None}) == {"b": 1, "a": 2, "c": 2, "d": 4, "e": None}


@pytest.mark.parametrize(
    ("before", "event", "late", "after"),
    [
        (TaskState.PENDING, "met", False, TaskState.ON_TIME),
        (TaskState.PENDING, "met", True, TaskState.LATE),
        (TaskState.PENDING, "breached", False, TaskState.LATE),
        (TaskState.PENDING, "cancelled", False, TaskState.CANCELLED),
        (TaskState.LATE, "met", True, TaskState.LATE),  # breached, accepted later: still late
        (TaskState.LATE, "cancelled", False, TaskState.LATE),  # breached, then rejected: still counted late
        (TaskState.ON_TIME, "cancelled", False, TaskState.ON_TIME),
        (TaskState.EXCLUDED, "met", False, TaskState.EXCLUDED),
    ],
)
def test_accept_clock_transitions(before: TaskState, event: str, late: bool, after: TaskState) -> None:
    assert task_transition(before, event, late=late) is after


def test_a_state_change_moves_the_counters_by_the_difference() -> None:
    assert task_counts(TaskState.ON_TIME) - task_counts(TaskState.PENDING) == Counts(
        assigned=1, responded=1, pending=-1
    )
    assert task_counts(TaskState.CANCELLED) - task_counts(TaskState.PENDING) == Counts(pending=-1)
    assert task_counts(TaskState.EXCLUDED) - task_counts(TaskState.LATE) == Counts(assigned=-1)


def test_callbacks_count_by_outcome_and_exclusions_count_nowhere() -> None:
    assert callback_counts(CallbackFact(True, "basically_satisfied", None)) == Counts(
        callbacks=1, solved=1, basically=1
    )
    assert callback_counts(CallbackFact(False, "unsatisfied", None)) == Counts(callbacks=1, unsatisfied=1)
    assert callback_counts(CallbackFact(None, None, Exclusion.UNREACHABLE)) == Counts(unreachable=1)
    for reason in (Exclusion.MERGED, Exclusion.HANDED_OVER, Exclusion.CONSULTATION):
        assert callback_counts(CallbackFact(True, "satisfied", reason)).is_zero()


def test_the_day_is_the_city_day() -> None:
    # 16:30 UTC on 30 November is 00:30 on 1 December in Shanghai.
    assert city_day(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == date(2026, 12, 1)
    assert city_day(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == date(2026, 11, 30)


def test_periods() -> None:
    assert period_days(Period.DAY, date(2026, 11, 4)) == (date(2026, 11, 4), date(2026, 11, 4))
    assert period_days(Period.WEEK, date(2026, 11, 4)) == (date(2026, 11, 2), date(2026, 11, 8))
    assert period_days(Period.WEEK, date(2026, 11, 8)) == (date(2026, 11, 2), date(2026, 11, 8))
    assert period_days(Period.MONTH, date(2026, 11, 4)) == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_days(Period.MONTH, date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert period_days(Period.MONTH, date(2028, 2, 10)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_who_sees_which_scores() -> None:
    area = DeptArea(district="xa", street="xa-s1")
    dept = Identity(subject="u", role=Role.DEPARTMENT, dept_code="sc-a")
    assert visible_keys(dept, Level.DEPARTMENT, area) == frozenset({"sc-a"})
    assert visible_keys(dept, Level.STREET, area) == frozenset({"xa-s1"})
    assert visible_keys(dept, Level.DISTRICT, area) == frozenset({"xa"})
    assert visible_keys(dept, Level.CITY, area) == frozenset({"city"})
    # A district-level department belongs to no street; one whose area is unknown sees its own score only.
    assert visible_keys(dept, Level.STREET, DeptArea(district="xa")) == frozenset()
    assert visible_keys(dept, Level.DISTRICT, None) == frozenset()
    for role in (Role.COMMAND_CENTRE, Role.AUDITOR, Role.ADMIN):
        assert visible_keys(Identity(subject="u", role=role), Level.DEPARTMENT, None) is None
    assert visible_keys(Identity(subject="u", role=Role.DEPARTMENT), Level.CITY, None) == frozenset()
