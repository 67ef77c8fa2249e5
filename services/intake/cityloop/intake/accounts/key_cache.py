"""The API keys intake found in the last seconds. A system account (the hotline's telephony, the callback desk)
calls many times a second with one key, and looking it up on every call cost a pool checkout and a statement
per request. A key found is believed for ``ttl_seconds`` (IntakeSettings.api_key_cache_seconds): revoking it,
or deactivating its account, in the database takes effect within that time on every replica, where a bearer
token stays good until it expires (credentials.py). A key not found is never kept: each try is looked up and
counts against the caller's address (authn.py).

cachetools' TTLCache rather than a dict of our own: it bounds the entries (least recently used go first) and
drops them when they expire."""

import time
from collections.abc import Callable

from cachetools import TTLCache

from cityloop.common.identity import Identity

#: Distinct keys kept at once; a city has tens of system accounts, so this only bounds a misuse.
MAX_KEYS = 1024


class KeyCache:
    def __init__(self, ttl_seconds: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._found: TTLCache[str, Identity] | None = (
            TTLCache(MAX_KEYS, ttl_seconds, timer=timer) if ttl_seconds > 0 else None
        )

    def get(self, key_hash: str) -> Identity | None:
        return None if self._found is None else self._found.get(key_hash)

    def put(self, key_hash: str, identity: Identity) -> None:
        if self._found is not None:
            self._found[key_hash] = identity
