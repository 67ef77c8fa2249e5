"""Rate limits (issue 11): keyed by the authenticated principal; by client address only through configured
trusted proxies (X-Forwarded-For from anyone else is ignored); login throttling per username that backs off
on failures only, resets on success and lets the owner in from an address it signed in from before, plus a
per-address limit across usernames; the Open311 limit per client address within a key, after the key.

Each test has its own gateway (its own limits and settings) over the session's intake database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from cityloop.intake.accounts.credentials import hash_api_key
from cityloop.intake.app import create_app
from cityloop.intake.demo import DEMO_OPEN311_KEY
from cityloop.intake.open311 import store as open311_store
from cityloop.intake.settings import IntakeSettings
from tests.integration.conftest import Loop

DISCOVERY = "/open311/v2/discovery.json"
REQUESTS = "/open311/v2/requests.json"


@asynccontextmanager
async def gateway(loop: Loop, **settings: Any) -> AsyncIterator[Any]:
    """A gateway of its own (own limits) on the session's intake runtime; ``client(address, **headers)``."""
    app = create_app(IntakeSettings(**settings))
    app.state.runtime = loop.runtime("intake")
    opened: list[httpx.AsyncClient] = []

    def client(address: str, **headers: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 41000))
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers))
        return opened[-1]

    try:
        yield client
    finally:
        for c in opened:
            await c.aclose()


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": username, "password": password})


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(loop: Loop) -> None:
    async with gateway(loop, open311_rate_limit="2/minute", trusted_proxies=["10.9.0.0/24"]) as client:
        direct = client("203.0.113.5")
        answers = [
            (await direct.get(DISCOVERY, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(3)
        ]
        assert answers == [200, 200, 429]  # a forged header from an untrusted peer buys nothing

        proxy = client("10.9.0.1")
        first = [
            (await proxy.get(DISCOVERY, headers={"X-Forwarded-For": "198.51.100.50"})).status_code for _ in range(3)
        ]
        assert first == [200, 200, 429]
        # Prepending a made-up address: the client is the rightmost address the trusted proxy did not add.
        spoofed = await proxy.get(DISCOVERY, headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.50"})
        assert spoofed.status_code == 429
        assert (await proxy.get(DISCOVERY, headers={"X-Forwarded-For": "198.51.100.51"})).status_code == 200
        # Through two trusted hops the client is still the first untrusted address from the right.
        two_hops = await proxy.get(DISCOVERY, headers={"X-Forwarded-For": "198.51.100.50, 10.9.0.2"})
        assert two_hops.status_code == 429


async def test_login_backs_off_per_username_on_failures_and_lets_the_owner_in(loop: Loop) -> None:
    settings = {"login_backoff_free_failures": 2, "login_backoff_base_seconds": 60, "login_rate_limit": "100/minute"}
    async with gateway(loop, **settings) as client:
        owner, attacker, new_device = client("198.51.100.10"), client("203.0.113.66"), client("198.51.100.11")
        # Successes never count: the owner signs in again and again.
        assert [(await login(owner, "auditor", "demo-auditor")).status_code for _ in range(5)] == [200] * 5
        guesses = [(await login(attacker, "auditor", f"guess-{i}")).status_code for i in range(4)]
        assert guesses == [401, 401, 401, 429]  # two free failures, then the third sets a 60 s wait
        waited = await login(attacker, "auditor", "demo-auditor")
        assert waited.status_code == 429  # even the right password waits: guessing gains nothing
        assert 1 <= int(waited.headers["Retry-After"]) <= 60
        assert waited.json()["error"] == "rate_limited"
        # Not locked out: the owner's address (signed in from before) skips the username's backoff ...
        assert (await login(owner, "auditor", "demo-auditor")).status_code == 200
        # ... and that success reset it, so a new device of the owner gets in too.
        assert (await login(new_device, "auditor", "demo-auditor")).status_code == 200
        other_user = await login(attacker, "calltaker", "demo-calltaker")
        assert other_user.status_code == 200  # the backoff is the username's, not the address's


async def test_failed_logins_are_limited_per_address_across_usernames(loop: Loop) -> None:
    async with gateway(loop, login_rate_limit="3/minute") as client:
        sprayer, elsewhere = client("203.0.113.77"), client("198.51.100.77")
        answers = [(await login(sprayer, name, "Winter2026!")).status_code for name in ("a1", "a2", "a3", "a4")]
        assert answers == [401, 401, 401, 429]
        assert (await login(sprayer, "calltaker", "demo-calltaker")).status_code == 429
        assert (await login(elsewhere, "calltaker", "demo-calltaker")).status_code == 200


async def test_authenticated_calls_are_limited_per_principal(loop: Loop) -> None:
    async with gateway(loop, api_rate_limit="3/minute") as client:
        token = (await login(client("198.51.100.20"), "command", "demo-command")).json()["access_token"]
        same_principal = [client(f"198.51.100.{20 + i}", Authorization=f"Bearer {token}") for i in range(4)]
        answers = [(await c.get("/api/v1/auth/me")).status_code for c in same_principal]
        assert answers == [200, 200, 200, 429]  # another address does not make another principal
        other = (await login(client("198.51.100.30"), "auditor", "demo-auditor")).json()["access_token"]
        assert (
            await client("198.51.100.20", Authorization=f"Bearer {other}").get("/api/v1/auth/me")
        ).status_code == 200
        forger = client("203.0.113.88", Authorization="Bearer not-a-token")
        assert [(await forger.get("/api/v1/auth/me")).status_code for _ in range(4)] == [401, 401, 401, 429]


async def test_open311_limit_is_per_address_within_a_key_and_checked_after_the_key(loop: Loop) -> None:
    second_key = "second-open311-app-key"
    async with loop.runtime("intake").pool.acquire() as conn:
        await open311_store.insert_open311_client(conn, key_hash=hash_api_key(second_key), name="second app")
    async with gateway(loop, open311_rate_limit="2/minute") as client:
        app_server, other_server = client("198.51.100.40"), client("198.51.100.41")

        async def post(c: httpx.AsyncClient, key: str) -> int:
            # No service_code: a 400 once past the key and the limit; what counts here is 403 / 429.
            return (await c.post(REQUESTS, data={"api_key": key})).status_code

        assert [await post(app_server, DEMO_OPEN311_KEY) for _ in range(3)] == [400, 400, 429]
        assert await post(app_server, "a-guessed-key") == 403  # the key first: a wrong key is a 403, not a 429
        assert await post(app_server, second_key) == 400  # the same address within another key
        assert await post(other_server, DEMO_OPEN311_KEY) == 400  # another address within the same key
