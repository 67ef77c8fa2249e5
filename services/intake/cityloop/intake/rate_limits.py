"""Per-client rate limits on the public endpoints (Open311, login), with the ``limits`` library.

Counters live in process memory: each gateway replica limits on its own, which bounds abuse per replica
without a shared store; a Redis storage URI is the drop-in change when replicas multiply.
"""

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class RateLimit:
    def __init__(self, name: str, spec: str) -> None:
        self.name = name
        self.spec = spec
        self._item = parse(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allow(self, client: str) -> bool:
        """Counts one request from ``client``; False once the client is over its limit."""
        return await self._limiter.hit(self._item, self.name, client)

    @property
    def retry_after_seconds(self) -> int:
        return int(self._item.get_expiry())
