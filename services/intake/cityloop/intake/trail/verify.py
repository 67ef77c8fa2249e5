"""``make trail-verify``: recompute every ticket's hash chain and the chain of anchors (chain.py).

Prints ``ok <n> entries`` (and ``ok <m> anchors``) and exits 0, or names the first broken entry and exits 1.
Entries are read in (ticket, chain position) order inside one repeatable-read snapshot, so a trail being
written meanwhile is checked as of one moment. Entries written before the chain existed (hash NULL) are
accepted only as the start of a ticket's chain, and are counted as unchained.
"""

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

from cityloop.common.db.pool import Conn, connect
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.trail import chain

ENTRIES = (
    "SELECT seq, ticket_id, chain_index, event_id, type, time, actor, summary, status, detail, hash"
    " FROM ticket_timeline ORDER BY ticket_id, chain_index"
)


@dataclass
class Report:
    entries: int = 0
    unchained: int = 0
    anchors: int = 0
    broken: str | None = None

    def lines(self) -> list[str]:
        if self.broken is not None:
            return [f"BROKEN {self.broken}"]
        legacy = f" ({self.unchained} written before the chain, not covered)" if self.unchained else ""
        return [f"ok {self.entries} entries{legacy}", f"ok {self.anchors} anchors"]


def describe(row: Any, problem: str) -> str:
    return (
        f"ticket {row['ticket_id']} entry #{row['chain_index']} (ticket_timeline.seq={row['seq']},"
        f" event_id={row['event_id']}): {problem}"
    )


@dataclass
class Walk:
    """Walks the entries in (ticket, chain position) order, keeping each ticket's running hash."""

    #: (ticket id, chain position) -> the hash an anchor recorded for it.
    anchored: dict[tuple[str, int], bytes]
    report: Report = field(default_factory=Report)
    ticket: str | None = None
    expected_index: int = 0
    prev: bytes | None = None
    seen: set[tuple[str, int]] = field(default_factory=set)
    #: ticket id -> (index, hash) of its newest entry as intake recorded it (trail_heads).
    heads: dict[str, tuple[int, bytes | None]] = field(default_factory=dict)

    def end_of_ticket(self) -> str | None:
        """The chain just walked must end where intake last appended (entries cut off the end)."""
        if self.ticket is None or self.ticket not in self.heads:
            return None
        index, digest = self.heads[self.ticket]
        last = self.expected_index - 1
        if last < index:
            return f"ticket {self.ticket} entry #{last + 1}: missing (the trail's head is entry #{index})"
        if digest is not None and self.prev is not None and digest != self.prev:
            return f"ticket {self.ticket} entry #{last}: differs from the trail's recorded head"
        return None

    def step(self, row: Any) -> str | None:
        if row["ticket_id"] != self.ticket:
            problem = self.end_of_ticket()
            if problem is not None:
                return problem
            self.ticket, self.expected_index, self.prev = row["ticket_id"], 0, None
        if row["chain_index"] != self.expected_index:
            return describe(row, f"expected entry #{self.expected_index} before it: an entry is missing")
        self.expected_index += 1
        self.report.entries += 1
        if row["hash"] is None:
            if self.prev is not None:
                return describe(row, "its hash was removed")
            self.report.unchained += 1
            return None
        entry = chain.Entry(
            row["ticket_id"],
            row["chain_index"],
            row["event_id"],
            row["type"],
            row["time"],
            row["actor"],
            row["summary"],
            row["status"],
            row["detail"],
        )
        digest = chain.entry_hash(self.prev, entry)
        if digest != bytes(row["hash"]):
            return describe(row, "its content or its place in the chain was changed")
        key = (row["ticket_id"], row["chain_index"])
        if key in self.anchored:
            if self.anchored[key] != digest:
                return describe(row, "differs from the hash an anchor recorded for it")
            self.seen.add(key)
        self.prev = digest
        return None


async def verify(conn: Conn) -> Report:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        heads = await conn.fetch(
            "SELECT anchor_id, ticket_id, chain_index, hash FROM trail_anchor_heads ORDER BY anchor_id, ticket_id"
        )
        anchors = await conn.fetch("SELECT id, prev_hash, hash FROM trail_anchors ORDER BY id")
        walk = Walk({(h["ticket_id"], h["chain_index"]): bytes(h["hash"]) for h in heads})
        walk.heads = {
            r["ticket_id"]: (r["chain_index"], None if r["hash"] is None else bytes(r["hash"]))
            for r in await conn.fetch("SELECT ticket_id, chain_index, hash FROM trail_heads")
        }
        report = walk.report
        prev: bytes | None = None
        covered: dict[int, list[chain.Head]] = {}
        for h in heads:
            covered.setdefault(h["anchor_id"], []).append(
                chain.Head(h["ticket_id"], h["chain_index"], bytes(h["hash"]))
            )
        for a in anchors:
            if a["prev_hash"] != prev or chain.anchor_hash(prev, covered.get(a["id"], [])) != bytes(a["hash"]):
                report.broken = f"anchor {a['id']}: does not chain from the anchor before it or its heads were changed"
                return report
            prev = bytes(a["hash"])
            report.anchors += 1
        async for row in conn.cursor(ENTRIES, prefetch=1000):
            problem = walk.step(row)
            if problem is not None:
                report.broken = problem
                return report
        problem = walk.end_of_ticket()
        if problem is not None:
            report.broken = problem
            return report
        missing = sorted(set(walk.anchored) - walk.seen)
        if missing:
            ticket_id, index = missing[0]
            report.broken = f"ticket {ticket_id} entry #{index}: anchored, but no longer in the trail"
        return report


async def main() -> int:
    settings = IntakeSettings()
    conn = await connect(settings.service_database_url, settings.db_schema)
    try:
        report = await verify(conn)
    finally:
        await conn.close()
    for line in report.lines():
        print(line)
    return 0 if report.broken is None else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
