"""Surge detection rules (surges.py), pure: thresholds, levels, one proposal per surge, the learnt normal."""

from datetime import UTC, datetime, timedelta

import pytest

from cityloop.common.contract.proposals import EmergencyProposed, proposal_event
from cityloop.common.contract.registry import spec_of
from cityloop.feedback.signals.surges import SurgeRules, SurgeState, observe, suggested_level, threshold

RULES = SurgeRules()  # 1 h window in 5 min buckets, ratio 3, floor 2, at least 10, cooldown 1 h
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def feed(
    state: SurgeState, times: list[datetime], street: str = "pd-s01", category: str = "water.pipe_burst"
) -> tuple[SurgeState, list[EmergencyProposed]]:
    proposals: list[EmergencyProposed] = []
    for at in times:
        state, proposal = observe(state, at=at, street=street, category=category, district="pd", rules=RULES)
        if proposal is not None:
            proposals.append(proposal)
    return state, proposals


def test_threshold_is_ratio_times_the_normal_but_never_below_the_floor_or_the_minimum() -> None:
    assert threshold(0.0, RULES) == 10  # 3 x floor 2 = 6, but at least 10 tickets
    assert threshold(3.0, RULES) == 10  # 3 x 3 = 9 < 10
    assert threshold(5.0, RULES) == 15
    assert threshold(5.01, RULES) == 16  # rounded up: a surge is a whole number of tickets
    assert threshold(0.0, SurgeRules(min_count=1, floor=0.5, ratio=4)) == 2


@pytest.mark.parametrize(
    ("count", "needed", "level"), [(10, 10, "IV"), (19, 10, "IV"), (20, 10, "III"), (40, 10, "II"), (80, 10, "I")]
)
def test_suggested_level_grows_with_multiples_of_the_threshold(count: int, needed: int, level: str) -> None:
    assert suggested_level(count, needed) == level


def test_rules_refuse_a_window_that_is_not_whole_buckets() -> None:
    with pytest.raises(ValueError, match="multiple"):
        SurgeRules(window_seconds=3600, bucket_seconds=7 * 60)


def test_ten_tickets_in_one_street_within_the_hour_make_exactly_one_proposal() -> None:
    times = [T0 + timedelta(minutes=4 * i) for i in range(25)]
    state, proposals = feed(SurgeState(), times[:9])
    assert proposals == []
    state, proposals = feed(state, times[9:])
    assert len(proposals) == 1  # the 10th starts it; the next 15 are the same surge
    p = proposals[0]
    assert (p.district, p.street, p.category_group) == ("pd", "pd-s01", "water")
    assert p.scope.streets == ["pd-s01"]
    assert p.scope.districts == []
    assert (p.count, p.threshold, p.baseline, p.suggested_level) == (10, 10, 0.0, "IV")
    assert p.categories == ["water.pipe_burst"]
    assert p.by_category == {"water.pipe_burst": 10}
    assert p.window_seconds == 3600
    assert p.window_end - p.window_start == timedelta(hours=1)
    assert p.window_start <= times[0]
    assert p.proposed_at == times[9]
    assert p.proposal_id == f"surge-pd-water-{int(times[9].timestamp())}"


def test_the_same_ticket_replayed_on_the_same_state_proposes_the_same_id() -> None:
    times = [T0 + timedelta(minutes=i) for i in range(9)]
    state, _ = feed(SurgeState(), times)
    _, once = feed(state, [T0 + timedelta(minutes=9)])
    _, again = feed(state, [T0 + timedelta(minutes=9)])
    assert [p.proposal_id for p in once] == [p.proposal_id for p in again]
    assert len(once) == 1


def test_observe_leaves_the_state_it_was_given_unchanged() -> None:
    # A state with every part filled: buckets of two streets, learnt normals, a surge under way.
    state, _ = feed(SurgeState(), [T0 - timedelta(hours=2, minutes=i) for i in range(3)], street="pd-s02")
    state, proposals = feed(state, [T0 + timedelta(minutes=i) for i in range(12)])
    state, _ = feed(state, [T0 + timedelta(minutes=20 + i) for i in range(3)], street="pd-s02")
    assert len(proposals) == 1
    assert state.surge is not None
    assert state.street_normal["pd-s02"] > 0
    assert len(state.buckets) > 1
    before = state.model_dump()
    for minutes in (50, 66, 400):  # the same bucket, a new bucket, after window and cooldown (folds, ends the surge)
        after, _ = observe(
            state,
            at=T0 + timedelta(minutes=minutes),
            street="pd-s01",
            category="water.pipe_burst",
            district="pd",
            rules=RULES,
        )
        assert after.model_dump() != before
        assert state.model_dump() == before


def test_a_steady_trickle_never_surges_and_becomes_the_normal() -> None:
    # One ticket every 10 minutes (6 an hour) for three weeks.
    times = [T0 + timedelta(minutes=10 * i) for i in range(6 * 24 * 21)]
    state, proposals = feed(SurgeState(), times)
    assert proposals == []
    normal_per_window = state.street_normal["pd-s01"] * RULES.buckets_per_window
    # An exponentially weighted mean that started at 0 with a half-life of a week: 1 - 0.5**3 of the
    # way to 6 after three weeks.
    assert normal_per_window == pytest.approx(6.0 * (1 - 0.5**3), rel=0.03)
    assert threshold(normal_per_window, RULES) == 16


def test_a_learnt_normal_raises_the_bar() -> None:
    trickle = [T0 + timedelta(minutes=10 * i) for i in range(6 * 24 * 21)]
    state, _ = feed(SurgeState(), trickle)
    needed = threshold(state.street_normal["pd-s01"] * RULES.buckets_per_window, RULES)
    # The last hour's trickle is in the window already; a burst within the current bucket tops it up.
    already = sum(n for cells in state.buckets.values() for n in cells.values())
    assert already == 6
    start = trickle[-1] + timedelta(seconds=30)
    # One ticket short: no surge, though a quiet street would have surged at 10.
    _, proposals = feed(state, [start + timedelta(seconds=2 * i) for i in range(needed - already - 1)])
    assert proposals == []
    _, proposals = feed(state, [start + timedelta(seconds=2 * i) for i in range(needed - already)])
    assert len(proposals) == 1
    assert proposals[0].baseline == pytest.approx(6.0 * (1 - 0.5**3), rel=0.03)
    assert proposals[0].threshold == needed


def test_a_new_surge_after_the_cooldown_is_a_new_proposal() -> None:
    first = [T0 + timedelta(minutes=i) for i in range(12)]
    state, proposals = feed(SurgeState(), first)
    assert len(proposals) == 1
    # Quiet for three hours (longer than window + cooldown), then another burst.
    later = [T0 + timedelta(hours=3, minutes=i) for i in range(12)]
    _, again = feed(state, later)
    assert len(again) == 1
    assert again[0].proposal_id != proposals[0].proposal_id


def test_the_same_surge_is_not_proposed_twice_while_it_lasts() -> None:
    # 12 tickets an hour for five hours: above threshold all along.
    times = [T0 + timedelta(minutes=5 * i) for i in range(12 * 5)]
    _, proposals = feed(SurgeState(), times)
    assert len(proposals) == 1


def test_spread_over_the_district_proposes_the_district() -> None:
    state = SurgeState()
    proposals = []
    for i in range(15):  # 3 tickets in each of five streets: no street reaches 10, the district does
        state, got = feed(state, [T0 + timedelta(minutes=i)], street=f"pd-s0{i % 5 + 1}")
        proposals += got
    assert len(proposals) == 1
    p = proposals[0]
    assert p.street is None
    assert p.scope.districts == ["pd"]
    assert p.scope.streets == []
    assert p.count == 10


def test_other_groups_and_late_tickets_do_not_add_up() -> None:
    state, _ = feed(SurgeState(), [T0 + timedelta(hours=2)])
    # Tickets from two hours earlier are older than the window: hot spots count them, surges do not.
    state, proposals = feed(state, [T0 + timedelta(minutes=i) for i in range(20)])
    assert proposals == []
    assert sum(sum(cells.values()) for cells in state.buckets.values()) == 1


def test_the_proposal_is_a_registered_control_mode_event_keyed_by_its_id() -> None:
    state = SurgeState()
    _, proposals = feed(state, [T0 + timedelta(minutes=i) for i in range(10)])
    event = proposal_event(proposals[0], source="/cityloop/feedback/signals")
    spec = spec_of(event.type)
    assert spec is not None
    assert (spec.data, spec.topics) == (EmergencyProposed, ("control.mode",))
    assert (event.subject, event.id) == (proposals[0].proposal_id, f"{proposals[0].proposal_id}:proposed")
    assert EmergencyProposed.model_validate(event.data) == proposals[0]
