"""Feedback's stream worker (``python -m cityloop.feedback.signals``) as its own process for a test,
and a reader of the proposals it publishes on control.mode."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx
from aiokafka import AIOKafkaConsumer

from cityloop.common.contract import types
from cityloop.common.contract.proposals import EmergencyProposed
from cityloop.common.envelope import CloudEvent
from cityloop.common.topics import CONTROL_MODE, full_name
from tests.ports import free_port

# Low group timeouts (scripts/infra/check_clients.py): a restarted worker rejoins in seconds, not 30+.
FAST = {
    "CITYLOOP_SIGNALS_SESSION_TIMEOUT_SECONDS": "6",
    "CITYLOOP_SIGNALS_HEARTBEAT_INTERVAL_SECONDS": "0.5",
    "CITYLOOP_SIGNALS_REBALANCE_TIMEOUT_SECONDS": "6",
    "CITYLOOP_SIGNALS_COMMIT_INTERVAL_SECONDS": "0.5",
    "CITYLOOP_SIGNALS_SNAPSHOT_INTERVAL_SECONDS": "0.5",
    "CITYLOOP_SIGNALS_PARTITIONS": "3",
}


class Worker:
    """One worker process at a time; ``restart`` stops it gracefully (SIGTERM) and starts a new one."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self._env = {**os.environ, **FAST, **env, "CITYLOOP_SIGNALS_HTTP_PORT": str(self.port)}
        self._log_path = log
        self._log: IO[bytes] | None = None
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._log = self._log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cityloop.feedback.signals",
            env=self._env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self._log_path.parent,
        )
        # Generous: a broker with thousands of test topics can take minutes to list a new one.
        async with asyncio.timeout(400), httpx.AsyncClient() as client:
            while True:
                assert self.proc.returncode is None, f"worker exited; see {self._log_path}"
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._log is not None:
            self._log.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def metrics(self) -> str:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{self.port}/metrics")).text


@asynccontextmanager
async def worker(log: Path, **env: str) -> AsyncIterator[Worker]:
    w = Worker(env, log)
    try:
        await w.start()
        yield w
    finally:
        await w.stop()


async def proposals(bootstrap: str, prefix: str, settle_seconds: float = 3.0) -> list[tuple[bytes, EmergencyProposed]]:
    """Every proposal on control.mode so far: read to the end, then until nothing new for ``settle_seconds``."""
    consumer = AIOKafkaConsumer(
        full_name(CONTROL_MODE.name, prefix), bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: list[tuple[bytes, EmergencyProposed]] = []
    try:
        while batch := await consumer.getmany(timeout_ms=int(settle_seconds * 1000)):
            for records in batch.values():
                for record in records:
                    event = CloudEvent.from_bytes(record.value)
                    if event.type == types.MODE_EMERGENCY_PROPOSED:
                        found.append((record.key or b"", EmergencyProposed.model_validate(event.data)))
    finally:
        await consumer.stop()
    return found
