"""Inbox: remembers which event ids a consumer has applied (see outbox.py for the other half)."""

from collections.abc import Sequence

from cityloop.common.db.pool import Conn

# One statement for a whole batch; a pair twice in the batch is new once (ON CONFLICT within the statement).
_CLAIM = (
    "INSERT INTO inbox (consumer, event_id) SELECT * FROM unnest($1::text[], $2::text[])"
    " ON CONFLICT DO NOTHING RETURNING consumer, event_id"
)


async def claim_pairs(conn: Conn, claims: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (consumer, event id) pairs of ``claims`` seen for the first time. Call inside the effects'
    transaction, which must apply exactly these."""
    if not claims:
        return set()
    consumers, event_ids = zip(*claims, strict=True)
    rows = await conn.fetch(_CLAIM, list(consumers), list(event_ids))
    return {(row["consumer"], row["event_id"]) for row in rows}
