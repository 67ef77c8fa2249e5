"""Hot-spot buckets and periods (buckets.py) and which events count (sightings.py), pure."""

from datetime import UTC, datetime, timedelta

from cityloop.common.calendar import CITY_TZ
from cityloop.common.contract import types
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.signals.buckets import HotspotCounts, HotspotKey, counted, keys_of, series, window
from cityloop.feedback.signals.sightings import Sighting, may_count, sighting_of
from tests import stand_ins

AS_OF = datetime(2026, 7, 15, 10, 30, tzinfo=CITY_TZ)


def sighting(at: datetime, street: str | None = "pd-s01", grid: str | None = "pd-s01-c01-g01") -> Sighting:
    return Sighting(ticket_id="T1", at=at, category="water.pipe_burst", district="pd", street=street, grid=grid)


def test_a_sighting_counts_for_its_district_street_and_grid() -> None:
    keys = [k.text() for k in keys_of(sighting(AS_OF))]
    assert keys == [
        "district|pd|pd|water.pipe_burst",
        "street|pd|pd-s01|water.pipe_burst",
        "grid|pd|pd-s01-c01-g01|water.pipe_burst",
    ]
    assert [k.level for k in keys_of(sighting(AS_OF, street=None, grid=None))] == ["district"]
    assert HotspotKey.parse(keys[1]) == keys_of(sighting(AS_OF))[1]


def test_periods_end_now_and_have_a_previous_period_of_the_same_length() -> None:
    day = window("day", AS_OF)
    assert (day.kind, len(day.buckets), len(day.previous)) == ("hour", 24, 24)
    assert day.buckets[-1] == datetime(2026, 7, 15, 10, 0, tzinfo=CITY_TZ)
    assert day.previous[-1] + timedelta(hours=1) == day.start
    week = window("week", AS_OF)
    assert (week.kind, len(week.buckets)) == ("day", 7)
    assert week.buckets[-1] == datetime(2026, 7, 15, tzinfo=CITY_TZ)  # local midnight, today included
    assert week.start == datetime(2026, 7, 9, tzinfo=CITY_TZ)
    assert week.previous_start == datetime(2026, 7, 2, tzinfo=CITY_TZ)
    month = window("month", AS_OF)
    assert month.start == datetime(2026, 6, 16, tzinfo=CITY_TZ)
    assert len(month.previous) == 30


def test_counts_land_in_local_buckets_and_old_ones_are_dropped() -> None:
    state = HotspotCounts()
    # 23:30 UTC on the 14th is 07:30 on the 15th in the city: today's bucket.
    for at in [datetime(2026, 7, 14, 23, 30, tzinfo=UTC), AS_OF, AS_OF - timedelta(days=3), AS_OF - timedelta(days=90)]:
        state = counted(state, at)
    current, previous = series(state, window("week", AS_OF))
    assert current == [0, 0, 0, 1, 0, 0, 2]
    assert previous == 0
    assert all(d > AS_OF.timestamp() - 63 * 86400 for d in state.days)  # 90 days ago: gone
    day_current, _ = series(state, window("day", AS_OF))
    assert sum(day_current) == 2


def test_first_dispatch_and_merge_count_re_dispatches_do_not() -> None:
    location = {"chain": {"district": "pd", "street": "pd-s01", "community": "pd-s01-c01", "grid": "pd-s01-c01-g01"}}
    # What router sends besides the place (the contract's Dispatched and Merged details).
    base: dict[str, dict[str, object]] = {
        types.TICKET_DISPATCHED: {"dept_code": "pd-water", "assignment_id": "A9", "urgency": "normal"},
        types.TICKET_MERGED: {"case_id": "C-T1", "merged_into": "T1"},
    }

    def event(type_: str, **detail: object) -> CloudEvent:
        return stand_ins.lifecycle("/test", type_, "T9", None, {**base[type_], **detail, "location": location})

    first_event = event(types.TICKET_DISPATCHED, category="water.pipe_burst")
    first = sighting_of(first_event)
    assert first is not None
    assert (first.district, first.street, first.grid, first.group) == ("pd", "pd-s01", "pd-s01-c01-g01", "water")
    assert sighting_of(event(types.TICKET_MERGED, category="water.pipe_burst")) is not None
    assert sighting_of(event(types.TICKET_DISPATCHED, category="water.pipe_burst", replaces=["A1"])) is None
    assert sighting_of(event(types.TICKET_DISPATCHED, category="water.pipe_burst", split_from="C-1")) is None
    created = {"channel": "hotline", "category": "water.pipe_burst", "description": "水管爆了", "location": {}}
    created_event = stand_ins.lifecycle("/test", types.TICKET_CREATED, "T9", None, {**created, "created_at": AS_OF})
    assert sighting_of(created_event) is None
    assert sighting_of(event(types.TICKET_MERGED)) is None  # a merge that does not say its category

    # The worker's cheap look at the bytes passes every counted type on to parsing, and nothing else.
    assert may_count(first_event.to_bytes())
    assert may_count(event(types.TICKET_MERGED).to_bytes())
    assert not may_count(created_event.to_bytes())
    assert not may_count(None)
