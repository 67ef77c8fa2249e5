"""The worker's agents: ``sight`` picks the counted tickets off ticket.lifecycle and re-keys them by
district; ``count`` keeps the tables and publishes a proposal when a surge starts.

Processing is at least once (faust's default): after a crash the tables come back from their changelogs
and the uncommitted events are read again. A proposal replayed that way has the same id (surges.py derives
it from the event), so consumers see one proposal; a sighting replayed after its table write reached the
changelog counts twice, which a hot spot and a surge threshold tolerate."""

from typing import Any

from cityloop.common.contract.proposals import proposal_event
from cityloop.common.envelope import CloudEvent, EnvelopeError
from cityloop.feedback.signals import tables, topics
from cityloop.feedback.signals.app import app, settings
from cityloop.feedback.signals.buckets import HotspotCounts, counted, keys_of
from cityloop.feedback.signals.metrics import PROPOSALS, SIGHTINGS
from cityloop.feedback.signals.sightings import Sighting, may_count, sighting_of
from cityloop.feedback.signals.snapshots import SOURCE
from cityloop.feedback.signals.surges import SurgeState, observe

RULES = settings.surge_rules()
#: Hot-spot keys changed since the last snapshot (timers.py publishes them). Lost in a crash, which is
#: why the timer re-publishes every key once the tables are recovered.
dirty: set[str] = set()
# The labelled counters, looked up once rather than per event (most events only bump SKIPPED).
SKIPPED, UNREADABLE, COUNTED = (SIGHTINGS.labels(outcome) for outcome in ("skipped", "unreadable", "counted"))


async def sight(stream: Any) -> None:
    async for raw in stream:
        if not may_count(raw):  # before any parsing: most lifecycle events are not counted
            SKIPPED.inc()
            continue
        try:
            event = CloudEvent.from_bytes(raw)
        except EnvelopeError:
            UNREADABLE.inc()
            continue
        sighting = sighting_of(event)
        if sighting is None:
            SKIPPED.inc()
            continue
        COUNTED.inc()
        await topics.sightings.send(key=sighting.district.encode(), value=sighting.model_dump_json().encode())


async def count(stream: Any) -> None:
    async for raw in stream:
        sighting = Sighting.model_validate_json(raw)
        for key in keys_of(sighting):
            text = key.text()
            counts = HotspotCounts.model_validate(tables.hotspots.get(text) or {})
            tables.hotspots[text] = counted(counts, sighting.at).model_dump(mode="json")
            dirty.add(text)
        surge_key = f"{sighting.district}|{sighting.group}"
        state, proposal = observe(
            SurgeState.model_validate(tables.surges.get(surge_key) or {}),
            at=sighting.at,
            street=sighting.street,
            category=sighting.category,
            district=sighting.district,
            rules=RULES,
        )
        tables.surges[surge_key] = state.model_dump(mode="json")
        if proposal is not None:
            event = proposal_event(proposal, source=SOURCE)
            await topics.control_mode.send(key=proposal.proposal_id.encode(), value=event.to_bytes())
            PROPOSALS.labels(proposal.category_group).inc()


# Registered here rather than with decorators: faust's decorators are untyped (mypy strict).
app.agent(topics.lifecycle, name="sight")(sight)
app.agent(topics.sightings, name="count")(count)
