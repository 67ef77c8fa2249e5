"""sla under an emergency: the declared wall-clock minutes replace the policy's spans, counted from the
dispatch, around the clock."""

from datetime import UTC, datetime, timedelta

from cityloop.common.contract.emergencies import EmergencyDeadlines
from cityloop.common.contract.lifecycle import ClockKind
from cityloop.sla.deadlines import dispatch_deadlines, dispatch_start
from cityloop.sla.policy import PolicyBook, policy_for, with_emergency_minutes
from cityloop.sla.settings import SlaSettings

MINUTES = EmergencyDeadlines(accept_minutes=10, onsite_minutes=30, resolve_minutes=120)
SATURDAY_NIGHT = datetime(2026, 7, 4, 23, 50, tzinfo=UTC)


def test_an_emergencys_minutes_set_accept_on_site_and_resolve_around_the_clock() -> None:
    policy = with_emergency_minutes(policy_for(PolicyBook(), category=None, urgency=None, mode="emergency"), MINUTES)
    start = dispatch_start(policy, dispatched_at=SATURDAY_NIGHT, reported_at=SATURDAY_NIGHT - timedelta(hours=3))
    assert start == SATURDAY_NIGHT  # from the dispatch (a re-homed ticket restarts at the switch)
    due = dispatch_deadlines(policy, start, SlaSettings().office_hours)
    assert {kind: d.at - start for kind, d in due.items()} == {
        ClockKind.ACCEPT: timedelta(minutes=10),
        ClockKind.ON_SITE: timedelta(minutes=30),
        ClockKind.RESOLVE: timedelta(minutes=120),
    }


def test_without_minutes_the_policy_is_unchanged() -> None:
    policy = policy_for(PolicyBook(), category=None, urgency=None, mode="emergency")
    assert with_emergency_minutes(policy, None) is policy
