"""How the gateway (gateway.py) reaches the services behind it: one request passed on, its answer read whole.

In production that is aiohttp over the services' internal HTTP ports. httpx was the first client here, but
it took ~1.9 ms of intake's CPU for every forwarded request where aiohttp takes ~0.16 ms (both measured
against a bare uvicorn endpoint, 16 in flight), and every callback an operator records, every score and
every department's read passes through this hop. In-process tests hand the gateway an httpx transport
instead (the services' ASGI apps, tests/integration/conftest.py InProcessServices), so both paths answer
the same ``Answer``.
"""

from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from yarl import URL


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class UpstreamUnavailable(Exception):
    """The service could not be reached, or did not answer in time (the gateway answers 503)."""


class Upstream(Protocol):
    async def request(self, method: str, url: str, *, query: str, body: bytes, headers: dict[str, str]) -> Answer: ...

    async def aclose(self) -> None: ...


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


class AiohttpUpstream:
    """One connection pool for all upstreams, made on first use (aiohttp wants a running event loop)."""

    def __init__(self, *, timeout_seconds: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                # The body goes back as the service sent it, with its own Content-Encoding.
                auto_decompress=False,
                # No cookie jar: the gateway speaks for many callers, never keeps state between them.
                cookie_jar=aiohttp.DummyCookieJar(),
                # Headers as the caller sent them: no User-Agent of our own, and no Accept-Encoding the caller
                # did not send (a service would compress for a caller that cannot read it).
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def request(self, method: str, url: str, *, query: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            async with self._open().request(
                method,
                # encoded=True: the caller's query string goes on byte for byte, repeated keys included.
                URL(_with_query(url, query), encoded=True),
                data=body or None,
                headers=headers,
                allow_redirects=False,
            ) as response:
                content = await response.read()
                pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
                return Answer(response.status, pairs, content)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamUnavailable(type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxUpstream:
    """The same over an httpx transport: in-process tests answer from the services' ASGI apps."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout_seconds: float) -> None:
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout_seconds)

    async def request(self, method: str, url: str, *, query: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            response = await self._client.request(method, _with_query(url, query), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(type(exc).__name__) from exc
        return Answer(response.status_code, list(response.headers.multi_items()), response.content)

    async def aclose(self) -> None:
        await self._client.aclose()
