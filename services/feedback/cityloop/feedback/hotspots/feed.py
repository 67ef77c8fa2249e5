"""Applying the worker's hot-spot snapshots (feedback.hotspots) to feedback's tables."""

from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.feedback.hotspots import store
from cityloop.feedback.signals.snapshots import HOTSPOT_COUNTS, HotspotSnapshot


def wants(event: CloudEvent) -> bool:
    return event.type == HOTSPOT_COUNTS


async def on_snapshot(conn: Conn, event: CloudEvent) -> None:
    snapshot = HotspotSnapshot.model_validate(event.data)
    await store.replace(conn, snapshot, taken_at=event.time)
