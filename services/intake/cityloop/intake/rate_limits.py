"""Rate limits, with the ``limits`` library: per authenticated principal (accounts/authn.py), per Open311
key and client address, per address for failed logins (with accounts/throttle.py per username), per address
on the citizen's callback link.

The client address is the TCP peer, unless the peer is one of the configured trusted proxies
(``CITYLOOP_INTAKE_TRUSTED_PROXIES``, addresses or networks): only then does uvicorn's
ProxyHeadersMiddleware (installed in app.py) take the client from ``X-Forwarded-For``, right to left,
skipping the trusted proxies. Anyone else's ``X-Forwarded-For`` is ignored.

Counters live in process memory: each gateway replica limits on its own, which bounds abuse per replica
without a shared store; a Redis storage URI is the drop-in change when replicas multiply.
"""

from fastapi import Request
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

    async def test(self, client: str) -> bool:
        """Whether ``client`` is still within its limit, without counting a request."""
        return await self._limiter.test(self._item, self.name, client)

    @property
    def retry_after_seconds(self) -> int:
        return int(self._item.get_expiry())


def client_address(request: Request) -> str:
    """The client's address as ProxyHeadersMiddleware resolved it (see the module's docstring)."""
    return request.client.host if request.client else "unknown"
