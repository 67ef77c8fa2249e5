"""A private Kafka broker and PostgreSQL for the harness, started and restarted with scripts/infra/*.sh in a
home of its own: the faults never reach the shared infrastructure other tests use."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "infra"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As a server would bind it: a port left in TIME_WAIT by our own last run counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int) -> int:
    """``preferred`` when nothing listens there, else any free port (a parallel run or a helper's broker)."""
    return preferred if port_free(preferred) else free_port()


async def broker_answers(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        async with asyncio.timeout(5):
            await admin.start()
            await admin.list_topics()
            return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _wait_gone(pid: int) -> None:
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


@dataclass
class PrivateInfra:
    home: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    _scripts: list[asyncio.subprocess.Process] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def create(
        cls, home: Path, *, kafka_port: int = 29092, controller_port: int = 29093, pg_port: int = 56500
    ) -> "PrivateInfra":
        return cls(home, pick_port(kafka_port), pick_port(controller_port), pick_port(pg_port))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def dsn(self) -> str:
        # The schemas' owner (scripts/infra/postgres.sh makes it): migrations never run as the superuser.
        return f"postgresql://cityloop_owner@127.0.0.1:{self.pg_port}/cityloop"

    def env(self) -> dict[str, str]:
        return os.environ | {
            "CITYLOOP_HOME": str(self.home),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            # Frugal on a shared machine: the harness's broker holds a few dozen partitions.
            "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
            "PGPORT": str(self.pg_port),
            "CITYLOOP_PG_FAST": "1",
        }

    async def _script(self, name: str, action: str) -> None:
        process = await asyncio.create_subprocess_exec(
            str(SCRIPTS / name), action, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{name} {action} failed ({process.returncode}): {out.decode()[-2000:]}")

    async def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        await asyncio.gather(self._script("postgres.sh", "start"), self.start_kafka())

    async def restart_kafka(self, *, crash: bool) -> None:
        """A clean stop (SIGTERM, controlled shutdown) or a crash (SIGKILL), then a start."""
        if crash:
            pid = int((self.home / "kafka" / "kafka.pid").read_text())
            os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(_wait_gone, pid)
        else:
            await self._script("kafka.sh", "stop")
        await self.start_kafka()

    async def start_kafka(self) -> None:
        """kafka.sh start, done once the broker answers a client: the script's own readiness probe (a Java
        source file compiled on each call) may take a minute more on a busy machine; it finishes alone."""
        script = await asyncio.create_subprocess_exec(
            str(SCRIPTS / "kafka.sh"), "start", env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._scripts.append(script)
        while script.returncode is None:
            if await broker_answers(self.bootstrap):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(script.wait(), 1.0)
        out = await script.stdout.read() if script.stdout else b""
        if script.returncode != 0:
            raise RuntimeError(f"kafka.sh start failed ({script.returncode}): {out.decode()[-2000:]}")

    async def restart_postgres(self) -> None:
        await self._script("postgres.sh", "stop")
        await self._script("postgres.sh", "start")

    async def stop(self) -> None:
        for script in self._scripts:
            await script.communicate()
        # The cluster is deleted (it may sit in /tmp, outside the run's home: scripts/infra/postgres.sh); the
        # broker's data and the services' logs stay in the home.
        for name, command in (("kafka.sh", "stop"), ("postgres.sh", "destroy")):
            try:
                await self._script(name, command)
            except RuntimeError as exc:
                print(f"chaos: {exc}", flush=True)
