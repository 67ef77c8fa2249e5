"""The callback rules (回访 and 重办) without a broker: what reopens, attempts, escalation, claims, links."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cityloop.common.contract.callbacks import Satisfaction, UnsatisfiedReason, Verdict
from cityloop.feedback.callbacks import rules
from cityloop.feedback.callbacks.links import answer_from_form
from cityloop.feedback.callbacks.models import Answer

S, B, U = Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.UNSATISFIED


@pytest.mark.parametrize(
    ("solved", "satisfaction", "reason", "expected"),
    [
        (True, S, None, Verdict.CLOSE),
        (True, B, None, Verdict.CLOSE),
        (False, S, None, Verdict.REHANDLE),  # not solved reopens whatever the rating
        (False, U, UnsatisfiedReason.POLICY_LIMIT, Verdict.REHANDLE),
        (True, U, UnsatisfiedReason.POORLY_HANDLED, Verdict.REHANDLE),
        (True, U, UnsatisfiedReason.ATTITUDE, Verdict.REHANDLE),
        (True, U, UnsatisfiedReason.OTHER, Verdict.REHANDLE),
        # Solved but unsatisfied for a reason handling again cannot change: closed, the 不满意 stays on record.
        (True, U, UnsatisfiedReason.UNREASONABLE_DEMAND, Verdict.CLOSE),
        (True, U, UnsatisfiedReason.POLICY_LIMIT, Verdict.CLOSE),
    ],
)
def test_what_reopens_after_a_resolution(
    solved: bool, satisfaction: Satisfaction, reason: UnsatisfiedReason | None, expected: Verdict
) -> None:
    got = rules.verdict(solved=solved, satisfaction=satisfaction, reason=reason, trigger="resolved")
    assert got is expected


def test_an_overdue_callback_only_records() -> None:
    got = rules.verdict(solved=False, satisfaction=U, reason=UnsatisfiedReason.NOT_HANDLED, trigger="overdue")
    assert got is Verdict.RECORD_ONLY


def test_the_accepted_reasons_are_configurable() -> None:
    only_not_handled = {UnsatisfiedReason.NOT_HANDLED}
    poorly = rules.verdict(
        solved=True,
        satisfaction=U,
        reason=UnsatisfiedReason.POORLY_HANDLED,
        trigger="resolved",
        rehandle_reasons=only_not_handled,
    )
    assert poorly is Verdict.CLOSE


@pytest.mark.parametrize(("failures", "level"), [(0, 0), (1, 0), (2, 1), (3, 2)])
def test_each_failure_after_the_first_climbs_one_level(failures: int, level: int) -> None:
    assert rules.escalation_level(failures) == level


@pytest.mark.parametrize(
    ("made", "limit", "after"),
    [
        (1, 3, rules.AfterNoAnswer.RESCHEDULE),
        (2, 3, rules.AfterNoAnswer.RESCHEDULE),
        (3, 3, rules.AfterNoAnswer.UNREACHABLE),
        (1, 1, rules.AfterNoAnswer.UNREACHABLE),
    ],
)
def test_attempts_until_unreachable(made: int, limit: int, after: rules.AfterNoAnswer) -> None:
    assert rules.after_no_answer(made, limit) is after


def test_a_claim_reserves_the_callback_until_it_lapses() -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    ttl = timedelta(minutes=30)
    fresh = now - timedelta(minutes=5)
    assert rules.may_act("op-1", fresh, who="op-1", now=now, ttl=ttl)
    assert not rules.may_act("op-1", fresh, who="op-2", now=now, ttl=ttl)
    assert rules.may_act("op-1", now - timedelta(minutes=31), who="op-2", now=now, ttl=ttl)
    assert rules.may_act(None, None, who="op-2", now=now, ttl=ttl)


def test_a_link_token_is_random_and_only_its_hash_is_kept() -> None:
    token, digest = rules.new_token()
    other, _ = rules.new_token()
    assert token != other
    assert len(token) >= 43
    assert digest == rules.token_hash(token)
    assert token not in digest
    assert len(digest) == 64


def test_link_states() -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    later, earlier = now + timedelta(hours=1), now - timedelta(seconds=1)
    assert rules.link_state(expires_at=later, used_at=None, callback_open=True, now=now) is rules.LinkState.OPEN
    assert rules.link_state(expires_at=later, used_at=earlier, callback_open=False, now=now) is rules.LinkState.USED
    assert rules.link_state(expires_at=earlier, used_at=None, callback_open=True, now=now) is rules.LinkState.EXPIRED
    assert rules.link_state(expires_at=later, used_at=None, callback_open=False, now=now) is rules.LinkState.CLOSED


def test_unsatisfied_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        Answer(solved=True, satisfaction=U)


def test_the_form_reads_into_an_answer_or_says_what_is_missing() -> None:
    form = {"solved": "no", "satisfaction": "unsatisfied", "reason": "not_handled", "note": "没人来"}
    answer = answer_from_form(form)
    assert answer == Answer(solved=False, satisfaction=U, reason=UnsatisfiedReason.NOT_HANDLED, note="没人来")
    assert answer_from_form({"solved": "yes", "satisfaction": "satisfied", "reason": "attitude"}) == Answer(
        solved=True, satisfaction=S
    )
    assert answer_from_form({"satisfaction": "satisfied"}) == "请选择问题是否已经解决。"
    assert "原因" in str(answer_from_form({"solved": "yes", "satisfaction": "unsatisfied"}))
