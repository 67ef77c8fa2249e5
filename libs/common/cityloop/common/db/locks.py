"""Advisory-lock keys scoped to a schema: each service's schema gets its own lock for each purpose, so
work serialised within one service (migrations, the outbox relay) never makes another service wait."""

import hashlib


def schema_lock_key(purpose: str, schema: str) -> int:
    """A stable 64-bit key for ``pg_advisory_lock`` and friends, from the purpose and the schema."""
    return int.from_bytes(hashlib.sha256(f"{purpose}:{schema}".encode()).digest()[:8], "big", signed=True)
