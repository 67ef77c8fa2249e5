"""Inbox: remembers which event ids a consumer has applied (see outbox.py for the other half)."""

from collections.abc import Sequence

from cityloop.common.db.pool import Conn


async def claim(conn: Conn, consumer: str, event_id: str) -> bool:
    """True the first time ``consumer`` sees ``event_id``; call inside the effect's transaction."""
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None


async def claim_many(conn: Conn, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """``claim`` for a batch in one statement: the ids ``consumer`` sees for the first time (an id twice in
    ``event_ids`` is new once). Call inside the effects' transaction, which must apply exactly these."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING"
        " RETURNING event_id",
        consumer,
        list(event_ids),
    )
    return {row["event_id"] for row in rows}
