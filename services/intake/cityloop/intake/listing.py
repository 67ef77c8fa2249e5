"""Cursor pagination (keyset): a cursor is the sort key of the last row returned, opaque to clients."""

import base64
from datetime import datetime

import orjson


class BadCursor(ValueError):
    """The cursor was not produced by this API (or was altered)."""


def encode_cursor(created_at: datetime, ticket_id: str) -> str:
    raw = orjson.dumps([created_at.isoformat(), ticket_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, ticket_id = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(created_at)
    except (ValueError, TypeError) as exc:
        raise BadCursor("not a cursor this API returned") from exc
    if when.tzinfo is None or not isinstance(ticket_id, str):
        raise BadCursor("not a cursor this API returned")
    return when, ticket_id


def encode_id_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode())
    except (ValueError, TypeError) as exc:
        raise BadCursor("not a cursor this API returned") from exc
