"""The trail's hash chain (services/intake/cityloop/intake/trail/chain.py): pure functions."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from cityloop.intake.trail.chain import GENESIS, Entry, Head, anchor_hash, canonical, entry_hash

ENTRY = Entry(
    ticket_id="T1",
    chain_index=0,
    event_id="e1",
    type="cityloop.ticket.created",
    time=datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
    actor="dispatcher",
    summary="received via hotline",
    status="received",
    detail={"b": [1, 2.5, "路"], "a": {"y": None, "x": True}},
)


def test_canonical_encoding_ignores_key_order_and_time_zone() -> None:
    shuffled = replace(
        ENTRY,
        detail={"a": {"x": True, "y": None}, "b": [1, 2.5, "路"]},
        time=ENTRY.time.astimezone(timezone(timedelta(hours=8))),
    )
    assert canonical(shuffled) == canonical(ENTRY)
    assert entry_hash(None, shuffled) == entry_hash(GENESIS, ENTRY)


def test_every_field_and_the_previous_hash_change_the_hash() -> None:
    base = entry_hash(None, ENTRY)
    changed = [
        replace(ENTRY, ticket_id="T2"),
        replace(ENTRY, chain_index=1),
        replace(ENTRY, event_id="e2"),
        replace(ENTRY, type="cityloop.ticket.closed"),
        replace(ENTRY, time=ENTRY.time + timedelta(microseconds=1)),
        replace(ENTRY, actor="admin"),
        replace(ENTRY, summary="received"),
        replace(ENTRY, status=None),
        replace(ENTRY, detail={**ENTRY.detail, "b": [1, 2.5, "街"]}),
    ]
    hashes = {entry_hash(None, e) for e in changed}
    assert base not in hashes
    assert len(hashes) == len(changed)
    assert entry_hash(b"\x01" * 32, ENTRY) != base


def test_anchor_hash_chains_and_covers_every_head() -> None:
    heads = [Head("T2", 3, b"\x02" * 32), Head("T1", 0, b"\x01" * 32)]
    first = anchor_hash(None, heads)
    assert anchor_hash(None, list(reversed(heads))) == first  # order of the rows does not matter
    assert anchor_hash(first, heads) != first
    assert anchor_hash(None, [heads[0], Head("T1", 1, b"\x01" * 32)]) != first
    assert anchor_hash(None, heads[:1]) != first
