"""The real stack under `make bench`: reused when it already answers, else started with scripts/run_all.py
(as `make run` does) and stopped afterwards; the process of each service, and its memory while it runs.

Ports: the gateway (intake) on BENCH_PORT_BASE (default 8000, as `make run`), router, sla, feedback and the
stream worker on the next four. Database and topic prefix: CITYLOOP_DATABASE_URL / CITYLOOP_TOPIC_PREFIX as
for every service (the database is created if missing). So a developer can bench a stack of their own next
to a `make run`: ``BENCH_PORT_BASE=18000 CITYLOOP_TOPIC_PREFIX=mine. CITYLOOP_DATABASE_URL=.../mine``.
"""

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from cityloop.common.settings import CommonSettings

SERVICES = ("intake", "router", "sla", "feedback", "signals")
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "8000"))
REPO = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("CITYLOOP_HOME", Path(__file__).resolve().parents[2] / ".local"))


def port_of(service: str) -> int:
    return PORT_BASE + SERVICES.index(service)


def stack_env() -> dict[str, str]:
    """The environment the services get: the ports above, and the gateway's view of the others."""
    env = {f"CITYLOOP_{s.upper()}_HTTP_PORT": str(port_of(s)) for s in SERVICES}
    env |= {f"CITYLOOP_INTAKE_{s.upper()}_URL": f"http://127.0.0.1:{port_of(s)}" for s in ("router", "sla", "feedback")}
    gateway = f"http://127.0.0.1:{port_of('intake')}"
    env |= {"CITYLOOP_FEEDBACK_GATEWAY_URL": gateway, "CITYLOOP_FEEDBACK_PUBLIC_BASE_URL": gateway}
    env["CITYLOOP_INTAKE_OPEN311_BASE_URL"] = f"{gateway}/open311/v2"
    # The per-principal limit (6,000 calls a minute) keeps one client from taking the gateway; here one
    # call-taker is the whole load, and a forwarded GET at full speed would measure 429s instead.
    env["CITYLOOP_INTAKE_API_RATE_LIMIT"] = os.environ.get("CITYLOOP_INTAKE_API_RATE_LIMIT", "100000000/minute")
    # Logs as a deployment writes them (JSON lines, the services' own level) into the stack's log file.
    env["CITYLOOP_LOG_JSON"] = os.environ.get("CITYLOOP_LOG_JSON", "true")
    return env


async def ensure_database(dsn: str) -> None:
    """Create the stack's database when it does not exist (a bench database of its own)."""
    base, _, name = dsn.rpartition("/")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(f"{base}/postgres", timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    else:
        await conn.close()


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    return inodes


def pids_listening(port: int) -> list[int]:
    """Processes with a listening socket on ``port`` (replicas sharing it with SO_REUSEPORT included)."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
    return sorted(found)


def rss_kib(pid: int) -> tuple[int, int]:
    """(current, lifetime peak) resident memory of a process in KiB; (0, 0) once it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


@dataclass
class Memory:
    """Peak resident memory per service while a benchmark runs, sampled twice a second."""

    pids: dict[str, list[int]]
    peak_kib: dict[str, int] = field(default_factory=dict)  # largest single process of the service
    hwm_kib: dict[str, int] = field(default_factory=dict)

    def sample(self) -> None:
        for service, pids in self.pids.items():
            for pid in pids:
                rss, hwm = rss_kib(pid)
                self.peak_kib[service] = max(self.peak_kib.get(service, 0), rss)
                self.hwm_kib[service] = max(self.hwm_kib.get(service, 0), hwm)

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sample()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


@dataclass
class Stack:
    gateway: str
    started: bool
    settings: CommonSettings

    def pids(self) -> dict[str, list[int]]:
        return {service: pids_listening(port_of(service)) for service in SERVICES}

    @contextlib.asynccontextmanager
    async def memory(self) -> AsyncIterator[Memory]:
        memory = Memory(self.pids())
        stop = asyncio.Event()
        watcher = asyncio.create_task(memory.watch(stop))
        try:
            yield memory
        finally:
            stop.set()
            await watcher


async def _ready(client: httpx.AsyncClient, port: int) -> bool:
    try:
        return (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def _all_ready(client: httpx.AsyncClient) -> bool:
    return all(await asyncio.gather(*(_ready(client, port_of(s)) for s in SERVICES)))


@contextlib.asynccontextmanager
async def running_stack(start_timeout: float = 240.0) -> AsyncIterator[Stack]:
    """The stack on BENCH_PORT_BASE: reused if every service answers /readyz, else started and stopped."""
    env = {**os.environ, **stack_env()}
    settings = CommonSettings()
    gateway = f"http://127.0.0.1:{port_of('intake')}"
    async with httpx.AsyncClient() as client:
        if await _all_ready(client):
            yield Stack(gateway, False, settings)
            return
        await ensure_database(settings.database_url)
        log = HOME / "bench" / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"starting the stack (scripts/run_all.py) on ports {PORT_BASE}-{PORT_BASE + 4}; log {log}", flush=True)
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "scripts.run_all", env=env, cwd=REPO, stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + start_timeout
            while not await _all_ready(client):
                if process.returncode is not None:
                    raise RuntimeError(f"scripts/run_all.py exited ({process.returncode}); see {log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the stack is not ready after {start_timeout:.0f} s; see {log}")
                await asyncio.sleep(1.0)
            yield Stack(gateway, True, settings)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(60):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
