"""The services as separate OS processes (as scripts/run_all.py starts them), two replicas of router and of
sla in the same consumer groups, each replica on an HTTP port of its own; kill -9, restart, pause, resume."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.chaos.infra import PrivateInfra
from tests.ports import free_port

#: Wall-clock deadlines short enough to fall due during a run (sla/policy.py Policy, CITYLOOP_SLA_POLICIES):
#: a department that answers late, or not during an outage, meets warnings, breaches and escalations.
SHORT_POLICY = {
    "accept": {"seconds": 20},
    "resolve": {"seconds": 60},
    "callback": {"seconds": 120},
    "rehandle": {"seconds": 60},
    "extension_cap": {"seconds": 600},
    "warn_ratio": 0.5,
    # After the breach the ladder climbs rarely: one step per open clock in a long run, not a flood.
    "escalate_every": {"seconds": 600},
}
SLA_POLICIES = {"peacetime": SHORT_POLICY, "pressing": SHORT_POLICY}

#: A member that neither polls nor heartbeats for this long is dropped and its partitions move to the other
#: replica; the pause fault stops a process longer than this.
MAX_POLL_INTERVAL_MS = 8_000
SESSION_TIMEOUT_MS = 6_000


@dataclass
class ServiceProcess:
    name: str  # "router-2"
    service: str  # "router"
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    paused: bool = False
    #: Kept down on purpose (the replica fault): the supervisor leaves it alone.
    held_down: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        env = self.env | {f"CITYLOOP_{self.service.upper()}_HTTP_PORT": str(self.port)}
        with self.log.open("ab") as out:
            out.write(f"\n===== chaos: start #{self.starts + 1} of {self.name} =====\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"cityloop.{self.service}"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1
        self.paused = False

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def kill9(self) -> None:
        if self.paused:
            self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, grace: float = 15.0) -> None:
        if self.paused:
            self.resume()
        if not self.alive or self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    async def ready(self, client: httpx.AsyncClient) -> bool:
        try:
            return (await client.get(f"{self.url}/readyz", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Stack:
    infra: PrivateInfra
    logs: Path
    topic_prefix: str = ""
    replicas: int = 2
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    #: Starts by the supervisor of a process that exited by itself, by process name.
    restarts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        names = ["intake"]
        names += [f"router-{i}" for i in range(1, self.replicas + 1)]
        names += [f"sla-{i}" for i in range(1, self.replicas + 1)]
        names += ["feedback"]
        ports = {name: free_port() for name in names}
        env = self._env(ports)
        for name, port in ports.items():
            service = name.split("-")[0]
            self.processes[name] = ServiceProcess(name, service, port, env, self.logs / f"{name}.log")

    def _env(self, ports: dict[str, int]) -> dict[str, str]:
        return os.environ | {
            "CITYLOOP_ENVIRONMENT": "test",
            "CITYLOOP_DATABASE_URL": self.infra.dsn,
            "CITYLOOP_KAFKA_BOOTSTRAP": self.infra.bootstrap,
            "CITYLOOP_TOPIC_PREFIX": self.topic_prefix,
            "CITYLOOP_LOG_JSON": "false",
            "CITYLOOP_LOG_LEVEL": "WARNING",
            "CITYLOOP_ROUTER_TASK_TOPICS_AT_START": "false",
            "CITYLOOP_KAFKA_MAX_POLL_INTERVAL_MS": str(MAX_POLL_INTERVAL_MS),
            "CITYLOOP_KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "CITYLOOP_SLA_POLICIES": json.dumps(SLA_POLICIES),
            "CITYLOOP_INTAKE_OPEN311_RATE_LIMIT": "1000000/minute",
            "CITYLOOP_INTAKE_ROUTER_URL": f"http://127.0.0.1:{ports['router-1']}",
            "CITYLOOP_INTAKE_SLA_URL": f"http://127.0.0.1:{ports['sla-1']}",
            "CITYLOOP_INTAKE_FEEDBACK_URL": f"http://127.0.0.1:{ports['feedback']}",
            "CITYLOOP_FEEDBACK_GATEWAY_URL": f"http://127.0.0.1:{ports['intake']}",
            "CITYLOOP_DB_POOL_MAX": "6",
            # The load names its categories: a small seed classifier trains in seconds, not minutes, per replica.
            "CITYLOOP_ROUTER_SEED_EXAMPLES_PER_CATEGORY": "4",
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def gateway(self) -> str:
        return self.processes["intake"].url

    def replicas_of(self, service: str) -> list[ServiceProcess]:
        return [p for p in self.processes.values() if p.service == service]

    def launch(self) -> None:
        # All at once: migrations run under an advisory lock (common/db/migrate.py), so replicas do not race.
        for process in self.processes.values():
            process.start()

    async def wait_ready(self, names: list[str] | None = None, *, seconds: float = 120.0) -> None:
        """Until every process answers /readyz (one that exited meanwhile is restarted by ``supervise``)."""
        waiting = set(names or self.processes)
        async with httpx.AsyncClient() as client:
            try:
                async with asyncio.timeout(seconds):
                    while waiting:
                        for name in sorted(waiting):
                            if await self.processes[name].ready(client):
                                waiting.discard(name)
                        await asyncio.sleep(0.5)
            except TimeoutError:
                tails = {n: self.processes[n].log.read_text()[-1500:] for n in sorted(waiting)}
                raise TimeoutError(f"not ready within {seconds:.0f}s: {tails}") from None

    async def supervise(self, stop: asyncio.Event) -> None:
        """What make run's supervisor (scripts/supervisor.py) or Kubernetes does: a process that exited (a
        service refuses to start while the broker or the database is down) is started again."""
        while not stop.is_set():
            for process in self.processes.values():
                if process.starts and not process.alive and not process.held_down:
                    self.restarts[process.name] = self.restarts.get(process.name, 0) + 1
                    process.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def stop(self) -> None:
        for process in self.processes.values():
            process.held_down = True
            process.stop()
