"""The worker's topics. ``ticket.lifecycle`` and ``control.mode`` are the contract's (libs/common topics.py,
with the deployment's prefix); ``feedback.hotspots`` is feedback's own; the sightings topic is internal to
the worker (faust creates it): sightings re-keyed by district, so that every count of one district, and
so every table key, lives in one partition whichever worker owns it."""

from cityloop.common.topics import CONTROL_MODE, FEEDBACK_HOTSPOTS, TICKET_LIFECYCLE, TopicSpec, full_name
from cityloop.feedback.signals.app import APP_ID, app, settings

WEEK_MS = str(7 * 24 * 3600 * 1000)
# The worker's own topics, created before faust starts (__main__.py): faust would create them too, but
# on a busy broker a worker that joins its group before they are visible is assigned none of their
# partitions until the next rebalance. Names as faust derives them: "<app id>-<table>-changelog".
SIGHTINGS = TopicSpec(f"{APP_ID}-sightings", partitions=settings.partitions, config={"retention.ms": WEEK_MS})
CHANGELOGS = [
    TopicSpec(f"{APP_ID}-{table}-changelog", partitions=settings.partitions, config={"cleanup.policy": "compact"})
    for table in ("surges", "hotspots")
]


def _contract(name: str) -> str:
    return full_name(name, settings.topic_prefix)


# Raw bytes in and out: the CloudEvent envelope and the pydantic models parse and write them.
lifecycle = app.topic(_contract(TICKET_LIFECYCLE.name), key_type=bytes, value_type=bytes, value_serializer="raw")
control_mode = app.topic(_contract(CONTROL_MODE.name), key_type=bytes, value_type=bytes, value_serializer="raw")
hotspots_out = app.topic(_contract(FEEDBACK_HOTSPOTS.name), key_type=bytes, value_type=bytes, value_serializer="raw")
sightings = app.topic(
    full_name(SIGHTINGS.name, settings.topic_prefix),
    key_type=str,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
    internal=True,
)
