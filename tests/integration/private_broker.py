"""A Kafka broker of a test's own, which the test may stop and start again: scripts/infra/kafka.sh with a
temporary CITYLOOP_HOME and ports free at the time, so the shared broker of `make test` (9092/9093) and
every other session are never touched. Stopped and deleted when the block ends."""

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

KAFKA_SH = Path(__file__).resolve().parents[2] / "scripts" / "infra" / "kafka.sh"


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on right now (the kernel picks them; held together so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _terminate(pid: int, home: str) -> None:
    """SIGTERM ``pid`` if it is still the broker living in ``home`` (not a process that reused the pid)."""
    with contextlib.suppress(OSError):
        if home in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGTERM)


@dataclass(frozen=True)
class PrivateBroker:
    home: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self._run("start")
        # kafka.sh reuses a broker already listening on the port: it must be ours, not a stranger's.
        pid_file = self.home / "kafka" / "kafka.pid"
        assert pid_file.is_file(), f"port {self.port} answered by a broker not ours"
        # An interrupted session (Ctrl-C) may never reach stop(): the JVM must not outlive the test process.
        atexit.register(_terminate, int(pid_file.read_text()), str(self.home))

    async def stop(self) -> None:
        """A clean stop (SIGTERM, then SIGKILL after 30 s): the broker is gone until ``start``."""
        await self._run("stop")

    async def _run(self, command: str) -> None:
        env = {
            **os.environ,
            "CITYLOOP_HOME": str(self.home),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",  # a handful of topics; the machine is shared
            "KAFKA_WAIT_TIMEOUT": "180",  # a loaded test machine starts a JVM slowly
        }
        process = await asyncio.create_subprocess_exec(
            str(KAFKA_SH), command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, f"kafka.sh {command} failed: {output.decode(errors='replace')}"


@contextlib.asynccontextmanager
async def private_broker() -> AsyncIterator[PrivateBroker]:
    with tempfile.TemporaryDirectory(prefix="cityloop-private-kafka-") as home:
        port, controller_port = free_ports(2)
        broker = PrivateBroker(Path(home), port, controller_port)
        try:
            await broker.start()
            yield broker
        finally:
            await broker.stop()
