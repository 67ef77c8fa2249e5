"""Back-pressure: a saturated database makes the API answer 503 with Retry-After (the pool's wait is bounded,
CITYLOOP_DB_POOL_WAIT_SECONDS) instead of hanging, and a burst far above what the pool serves at once is
queued and drained (every ticket accepted once and routed), not dropped."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from asyncpg.pool import PoolConnectionProxy

from tests.integration.conftest import Loop
from tests.integration.routing_support import timeline
from tests.integration.test_database_outage import ROUTED, dlq_ends, tickets

#: Tickets sent at once: several times what intake's pool (10 connections) serves at a time, and about ten
#: times what router drains per second on a busy test machine (the test prints both rates).
BURST = 40


@contextlib.asynccontextmanager
async def every_connection_held(loop: Loop) -> AsyncIterator[int]:
    """Take every connection of intake's pool and keep taking each one that comes free (asyncpg hands
    connections out first come, first served, so a request waits behind us) until the block ends."""
    pool = loop.runtime("intake").pool
    size = loop.runtime("intake").settings.db_pool_max
    held: list[PoolConnectionProxy[asyncpg.Record]] = []
    # Its relay keeps one connection for LISTEN, a consumer may be in the middle of a transaction.
    nearly_all = asyncio.Event()

    async def hog() -> None:
        while True:
            held.append(await pool.acquire(timeout=600))
            if len(held) >= size - 2:
                nearly_all.set()

    hogging = asyncio.create_task(hog())
    try:
        await nearly_all.wait()
        await asyncio.sleep(0.5)  # whatever comes free meanwhile is ours too
        yield len(held)
    finally:
        hogging.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hogging
        for conn in held:
            await pool.release(conn)


async def create_until_accepted(client: httpx.AsyncClient, body: dict[str, Any], refusals: list[float]) -> str:
    """What a well-behaved client does: on 503 wait Retry-After and send the same request again (the
    Idempotency-Key makes the repeat safe)."""
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    while True:
        response = await client.post("/api/v1/tickets", json=body, headers=headers)
        if response.status_code != 503:
            assert response.status_code == 201, response.text
            return str(response.json()["id"])
        refusals.append(float(response.headers["Retry-After"]))
        await asyncio.sleep(refusals[-1])


async def test_a_saturated_pool_answers_503_with_retry_after(loop: Loop) -> None:
    settings = loop.runtime("intake").settings
    async with every_connection_held(loop) as held:
        started = time.monotonic()
        response = await loop.intake.post("/api/v1/tickets", json=next(tickets()))
        waited = time.monotonic() - started
    assert held >= settings.db_pool_max - 2
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(settings.retry_after_seconds)
    body = response.json()
    assert body["error"] == "unavailable"
    assert body["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    print(f"\nsaturated pool: 503 after {waited:.2f} s (pool wait {settings.db_pool_wait_seconds} s)")


async def test_a_burst_ten_times_the_pool_is_queued_and_drained_not_dropped(loop: Loop) -> None:
    before = await dlq_ends()
    bodies = tickets()
    next(bodies)  # the saturation test's place: a ticket there could be merged instead of dispatched
    refusals: list[float] = []
    started = time.monotonic()
    ids = await asyncio.gather(*(create_until_accepted(loop.intake, next(bodies), refusals) for _ in range(BURST)))
    accepted = time.monotonic() - started
    assert len(set(ids)) == BURST
    for ticket_id in ids:
        await timeline(loop, ticket_id, ROUTED)
    drained = time.monotonic() - started
    after = await dlq_ends()
    assert {tp: end for tp, end in after.items() if end > before.get(tp, 0)} == {}
    print(
        f"\nburst of {BURST}: accepted in {accepted:.1f} s ({BURST / accepted:.1f}/s, {len(refusals)} 503s retried),"
        f" all routed in {drained:.1f} s ({BURST / drained:.1f}/s)"
    )
