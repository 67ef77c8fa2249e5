"""Inbox: remembers which event ids a consumer has applied (see outbox.py for the other half)."""

from cityloop.common.db.pool import Conn


async def claim(conn: Conn, consumer: str, event_id: str) -> bool:
    """True the first time ``consumer`` sees ``event_id``; call inside the effect's transaction."""
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        event_id,
    )
    return row is not None
