"""What the worker tells feedback about hot spots: the latest counts of one key (feedback.hotspots, compacted,
keyed by the hot-spot key). Internal to feedback, not part of the contract."""

from pydantic import BaseModel

from cityloop.common.envelope import CloudEvent, new_event
from cityloop.feedback.signals.buckets import HotspotCounts, HotspotKey

HOTSPOT_COUNTS = "cityloop.feedback.hotspot_counts"
SOURCE = "/cityloop/feedback/signals"


class HotspotSnapshot(BaseModel):
    key: HotspotKey
    counts: HotspotCounts


def snapshot_event(key: HotspotKey, counts: HotspotCounts) -> CloudEvent:
    return new_event(HOTSPOT_COUNTS, source=SOURCE, subject=key.text(), data=HotspotSnapshot(key=key, counts=counts))
