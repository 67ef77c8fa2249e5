"""Publishing hot-spot counts to feedback: every few seconds, the keys changed since the last time.

Services do not share memory: feedback's API serves hot spots from its own table, fed from the compacted
``feedback.hotspots`` topic (hotspots/ in feedback), rather than this worker writing feedback's tables.
The worker then needs no database, a restarted feedback rebuilds nothing it cannot read back from the
topic, and the feed is the same whether one worker or several own the partitions."""

from cityloop.feedback.signals import tables, topics
from cityloop.feedback.signals.agents import dirty
from cityloop.feedback.signals.app import app, recovered, settings
from cityloop.feedback.signals.buckets import HotspotCounts, HotspotKey
from cityloop.feedback.signals.metrics import HOTSPOT_PUBLISHED
from cityloop.feedback.signals.snapshots import snapshot_event

_recovered = False


async def publish_hotspots() -> None:
    global _recovered  # noqa: PLW0603 - one flag per worker process: was the last recovery seen?
    ready = recovered()
    if ready and not _recovered:
        # Fresh from recovery (start or rebalance): what changed just before a crash was never published.
        dirty.update(tables.hotspots.keys())
    _recovered = ready
    if not ready:
        return
    keys = sorted(dirty)
    dirty.clear()
    for text in keys:
        value = tables.hotspots.get(text)
        if not value:
            continue
        event = snapshot_event(HotspotKey.parse(text), HotspotCounts.model_validate(value))
        await topics.hotspots_out.send(key=text.encode(), value=event.to_bytes())
        HOTSPOT_PUBLISHED.inc()


app.timer(interval=settings.snapshot_interval_seconds)(publish_hotspots)
