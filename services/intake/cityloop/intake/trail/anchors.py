"""Periodic anchors over the trail: every so often, one chained digest (chain.anchor_hash) over the heads of
the tickets whose trail grew since the previous anchor, recorded in its own append-only table.

A head is the ticket's newest entry; the chain of anchors then pins every ticket's chain at a known length
and hash, so cutting entries off the end of a chain, or rewriting a chain from its start, is caught by
``make trail-verify`` (verify.py) even though each entry alone would still chain.
"""

import asyncio

import structlog

from cityloop.common.db.locks import schema_lock_key
from cityloop.common.db.pool import Conn, PgPool
from cityloop.intake.trail import chain

log = structlog.get_logger(__name__)


async def anchor(conn: Conn, schema: str = "intake") -> int | None:
    """Record one anchor over the heads that moved; its id, or None when no head moved."""
    async with conn.transaction():
        # One anchor at a time across replicas, so the anchors form one chain.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", schema_lock_key("trail-anchor", schema))
        rows = await conn.fetch(
            "SELECT ticket_id, chain_index, hash FROM trail_heads"
            " WHERE hash IS NOT NULL AND anchored_index IS DISTINCT FROM chain_index"
            " ORDER BY ticket_id FOR UPDATE"
        )
        if not rows:
            return None
        heads = [chain.Head(r["ticket_id"], r["chain_index"], r["hash"]) for r in rows]
        prev = await conn.fetchval("SELECT hash FROM trail_anchors ORDER BY id DESC LIMIT 1")
        anchor_id: int = await conn.fetchval(
            "INSERT INTO trail_anchors (prev_hash, hash) VALUES ($1, $2) RETURNING id",
            prev,
            chain.anchor_hash(prev, heads),
        )
        ids = [h.ticket_id for h in heads]
        indexes = [h.chain_index for h in heads]
        await conn.execute(
            "INSERT INTO trail_anchor_heads (anchor_id, ticket_id, chain_index, hash)"
            " SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bytea[])",
            anchor_id,
            ids,
            indexes,
            [h.hash for h in heads],
        )
        await conn.execute(
            "UPDATE trail_heads h SET anchored_index = a.i FROM unnest($1::text[], $2::int[]) AS a (t, i)"
            " WHERE h.ticket_id = a.t",
            ids,
            indexes,
        )
        return anchor_id


async def run_forever(pool: PgPool, *, every_seconds: float) -> None:
    """The intake runtime's background worker: an anchor every ``every_seconds`` when the trail grew."""
    while True:
        await asyncio.sleep(every_seconds)
        async with pool.acquire() as conn:
            anchor_id = await anchor(conn)
        if anchor_id is not None:
            log.info("trail.anchored", anchor_id=anchor_id)
