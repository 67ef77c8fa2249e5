"""The trail's hash chain, as pure functions over plain data.

Each entry's hash is sha256(previous entry's hash || canonical encoding of the entry); a ticket's first
entry chains from 32 zero bytes. The canonical encoding is JSON with sorted keys, no whitespace, UTF-8,
the time in UTC ISO 8601 with microseconds, over the values as the database stores them (``as_stored``
gives the detail PostgreSQL's jsonb will hand back, so what is verified later is exactly what was hashed,
without a round trip through the database to find out).

An anchor's hash is sha256(previous anchor's hash || one canonical line per head it covers, sorted by
ticket id): a chained digest over every ticket's newest entry at the time of the anchor.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = bytes(32)
#: orjson reads integers up to 64 bits; a larger jsonb integer comes back as a float.
_INT_RANGE = (-(2**63), 2**64 - 1)


def as_stored(value: Any) -> Any:
    """``value`` (JSON-able) as a jsonb column returns it through orjson: jsonb keeps numbers as decimals,
    so a float written in exponent form that is a whole number (1e+16) comes back as an integer, -0.0 as
    0.0, and NaN/infinity (which orjson writes as null) as None. Everything else comes back as it went in.
    tests/integration/test_trail_chain.py checks this against PostgreSQL itself."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == 0:
            return 0.0
        if value.is_integer() and b"e" in orjson.dumps(value) and _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_stored(v) for v in value]
    return value


@dataclass(frozen=True)
class Entry:
    ticket_id: str
    chain_index: int
    event_id: str
    type: str
    time: datetime
    actor: str
    summary: str
    status: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class Draft:
    """An entry before its place in the chain is known (store.py gives it one)."""

    ticket_id: str
    event_id: str
    type: str
    time: datetime
    actor: str
    summary: str
    status: str | None
    detail: dict[str, Any]

    def at(self, chain_index: int) -> Entry:
        """The entry at ``chain_index``, its values as the database will store and return them."""
        return Entry(
            self.ticket_id,
            chain_index,
            self.event_id,
            self.type,
            self.time.astimezone(UTC),
            self.actor,
            self.summary,
            self.status,
            as_stored(self.detail),
        )


@dataclass(frozen=True)
class Head:
    ticket_id: str
    chain_index: int
    hash: bytes


def canonical(entry: Entry) -> bytes:
    return orjson.dumps(
        {
            "ticket_id": entry.ticket_id,
            "chain_index": entry.chain_index,
            "event_id": entry.event_id,
            "type": entry.type,
            "time": entry.time.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "summary": entry.summary,
            "status": entry.status,
            "detail": entry.detail,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def entry_hash(prev: bytes | None, entry: Entry) -> bytes:
    return hashlib.sha256((prev or GENESIS) + canonical(entry)).digest()


def anchor_hash(prev: bytes | None, heads: list[Head]) -> bytes:
    digest = hashlib.sha256(prev or GENESIS)
    for head in sorted(heads, key=lambda h: h.ticket_id):
        digest.update(orjson.dumps([head.ticket_id, head.chain_index, head.hash.hex()]) + b"\n")
    return digest.digest()
