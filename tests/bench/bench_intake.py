"""`python -m tests.bench intake`: ticket creations through the gateway against a bare FastAPI endpoint.

With wrk, 32 connections, on the running stack (tests/bench/stack.py):
1. sustained rate: as fast as it goes for SECONDS, POST /api/v1/tickets with a bearer token and an
   Idempotency-Key (the full endpoint: auth, validation, transaction, outbox, the answer);
2. latency at half that rate (fixed schedule, tests/bench/load.py);
and the same two for the baseline, a bare FastAPI endpoint parsing the same JSON into the same model
(tests/bench/bare_app.py), in the same run. Non-2xx answers count as errors and are reported.
3. the gateway's hop: a read that intake forwards to router (GET /api/v1/categories), against the same
   read sent straight to router with the identity header the gateway would sign.
"""

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from scripts import local_secrets

from cityloop.common.identity import HEADER as IDENTITY_HEADER
from cityloop.common.identity import Identity, Role, encode_identity
from tests.bench import figures, load
from tests.bench.figures import record, sized
from tests.bench.stack import Stack, port_of, rss_kib
from tests.bench.workload import ticket_bodies
from tests.ports import free_port

NEEDS_STACK = True
SECONDS = float(os.environ.get("CITYLOOP_BENCH_INTAKE_SECONDS", sized(30, 8)))
BODIES = 5_000
REPO = Path(__file__).resolve().parents[2]
#: Filled by run(): the bare endpoint's peak memory, the baseline of every service's memory figure.
BARE_PEAK_KIB: list[int] = []


@contextlib.asynccontextmanager
async def bare_endpoint() -> AsyncIterator[tuple[str, int]]:
    """The baseline app in a process of its own; yields (url, pid)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.bench.bare_app", str(port), cwd=REPO)
    try:
        async with httpx.AsyncClient() as client, asyncio.timeout(60):
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(f"http://127.0.0.1:{port}/docs")
                    break
                await asyncio.sleep(0.2)
        yield f"http://127.0.0.1:{port}/api/v1/tickets", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def token(gateway: str) -> str:
    """A call-taker's access token (demo account; development and test settings only)."""
    async with httpx.AsyncClient(base_url=gateway) as client:
        response = await client.post("/api/v1/auth/token", data={"username": "calltaker", "password": "demo-calltaker"})
        response.raise_for_status()
        value: str = response.json()["access_token"]
        return value


def _errors(run: load.Run) -> str:
    return f"{run.failed} errors ({run.errors})" if run.failed else "no errors"


async def run(stack: Stack) -> None:
    bodies = ticket_bodies(BODIES)
    url = f"{stack.gateway}/api/v1/tickets"
    auth = {"Authorization": f"Bearer {await token(stack.gateway)}"}
    async with bare_endpoint() as (bare_url, bare_pid):
        print(f"  bare endpoint, full speed, {SECONDS:.0f} s ...", flush=True)
        bare = await load.post(bare_url, bodies, seconds=SECONDS)
        print(f"  intake, full speed, {SECONDS:.0f} s ...", flush=True)
        full = await load.post(url, bodies, seconds=SECONDS, headers=auth, idempotency=True)
        print(f"  bare endpoint at {bare.rate / 2:,.0f}/s ...", flush=True)
        bare_half = await load.post(bare_url, bodies, seconds=SECONDS, rate=bare.rate / 2)
        print(f"  intake at {full.rate / 2:,.0f}/s ...", flush=True)
        half = await load.post(url, bodies, seconds=SECONDS, headers=auth, idempotency=True, rate=full.rate / 2)
        BARE_PEAK_KIB[:] = [rss_kib(bare_pid)[1]]
    tool = f"wrk -t{load.THREADS} -c{load.CONNECTIONS}"
    record(
        "POST /api/v1/tickets, sustained",
        full.rate,
        "req/s",
        baseline=bare.rate,
        baseline_name="bare FastAPI",
        target=">= 0.25x",
        note=f"{tool}, {SECONDS:.0f} s; intake {_errors(full)}; bare {_errors(bare)}",
    )
    for name, value, base in (("p50", half.p50_ms, bare_half.p50_ms), ("p99", half.p99_ms, bare_half.p99_ms)):
        record(
            f"POST /api/v1/tickets, {name} at half rate",
            value,
            "ms",
            baseline=base,
            baseline_name="bare FastAPI at half its rate",
            better="lower",
            target="<= 50 ms" if name == "p99" else "",
            note=f"intake at {half.rate:,.0f}/s (asked {full.rate / 2:,.0f}), bare at {bare_half.rate:,.0f}/s;"
            f" intake {_errors(half)}",
        )
    record(
        "POST /api/v1/tickets, p99 at full speed",
        full.p99_ms,
        "ms",
        baseline=bare.p99_ms,
        baseline_name="bare FastAPI",
        better="lower",
    )
    figures.note(f"intake sustained {full.rate:,.0f} req/s p50 {full.p50_ms:.1f} ms, bare {bare.rate:,.0f} req/s")
    await _gateway_hop(stack, auth)


async def _gateway_hop(stack: Stack, auth: dict[str, str]) -> None:
    path = "/api/v1/categories"
    print(f"  GET {path} through the gateway, then straight to router, full speed, {SECONDS:.0f} s each ...")
    via = await load.get(f"{stack.gateway}{path}", seconds=SECONDS, headers=auth)
    # The secret the stack's services hold (scripts/run_all.py gives them the same).
    secret = local_secrets.effective()["CITYLOOP_INTERNAL_SECRET"]
    signed = encode_identity(Identity(subject="calltaker", role=Role.CALL_TAKER), secret)
    direct = await load.get(
        f"http://127.0.0.1:{port_of('router')}{path}", seconds=SECONDS, headers={IDENTITY_HEADER: signed}
    )
    record(
        f"GET {path} through the gateway (forwarded to router), sustained",
        via.rate,
        "req/s",
        baseline=direct.rate,
        baseline_name="the same GET straight to router",
        note=f"wrk -t{load.THREADS} -c{load.CONNECTIONS}, {SECONDS:.0f} s; p50 {via.p50_ms:.1f} ms (direct"
        f" {direct.p50_ms:.1f}); gateway {_errors(via)}; direct {_errors(direct)}",
    )
