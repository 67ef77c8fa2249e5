"""The trail's hash chain, as pure functions over plain data.

Each entry's hash is sha256(previous entry's hash || canonical encoding of the entry); a ticket's first
entry chains from 32 zero bytes. The canonical encoding is JSON with sorted keys, no whitespace, UTF-8,
the time in UTC ISO 8601 with microseconds, over the values as the database stores them (store.py reads
them back through PostgreSQL before hashing, so what is verified later is exactly what was hashed).

An anchor's hash is sha256(previous anchor's hash || one canonical line per head it covers, sorted by
ticket id): a chained digest over every ticket's newest entry at the time of the anchor.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = bytes(32)


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
