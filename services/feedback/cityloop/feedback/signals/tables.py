"""The worker's state: two faust tables, each backed by a compacted changelog topic
("<app id>-<table>-changelog") and rebuilt from it when a worker starts or takes over a partition.

Plain tables of JSON values rather than faust's windowed tables: one value per key holds all of that
key's buckets, so the window arithmetic is the pure functions in buckets.py and surges.py (tested without
a broker), old buckets are dropped as the value is rewritten, and nothing depends on faust's wall-clock
window expiry (events carry their own time; a replay after downtime lands in the right buckets)."""

from cityloop.feedback.signals.app import app, settings

#: "<district>|<category group>" -> SurgeState (surges.py) as JSON
surges = app.Table("surges", default=dict, partitions=settings.partitions, key_type=str)
#: "<level>|<district>|<area>|<category>" -> HotspotCounts (buckets.py) as JSON
hotspots = app.Table("hotspots", default=dict, partitions=settings.partitions, key_type=str)
