"""What the worker tells feedback about hot spots: the latest counts of one key (feedback.hotspots, compacted,
keyed by the hot-spot key). Internal to feedback, not part of the contract."""

from pydantic import BaseModel

from cityloop.common.envelope import CloudEvent
from cityloop.feedback.signals.buckets import HotspotCounts, HotspotKey

HOTSPOT_COUNTS = "cityloop.feedback.hotspot_counts"
SOURCE = "/cityloop/feedback/signals"


class HotspotSnapshot(BaseModel):
    key: HotspotKey
    counts: HotspotCounts


def snapshot_event(key: HotspotKey, counts: HotspotCounts) -> CloudEvent:
    data = HotspotSnapshot(key=key, counts=counts).model_dump(mode="json")
    return CloudEvent(type=HOTSPOT_COUNTS, source=SOURCE, subject=key.text(), data=data)
