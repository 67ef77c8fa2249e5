"""Keeps child processes running for `make run` (run_all.py): one that dies is logged and restarted after
a backoff that doubles while it keeps crashing (and resets once it stayed up a while); ``stop`` ends
them all with SIGTERM, then SIGKILL for any that do not leave in time."""

import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)


def next_delay(crashes: int, *, first: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before restarting a child after its ``crashes``-th crash in a row (1-based)."""
    return float(min(cap, first * 2 ** max(0, crashes - 1)))


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0  # in a row; reset once the child stayed up ``healthy_after`` seconds
    restarts: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    children: Mapping[str, Sequence[str]]
    env: Mapping[str, str]
    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    state: dict[str, Child] = field(default_factory=dict)

    def start(self) -> None:
        for name, argv in self.children.items():
            child = self.state[name] = Child(name, argv)
            self._launch(child)

    def _launch(self, child: Child) -> None:
        child.process = subprocess.Popen(list(child.argv), env=dict(self.env))
        child.started_at = self.clock()
        child.restart_at = None

    def tick(self) -> None:
        """Notice children that died and restart those whose backoff is over; call it every half second."""
        now = self.clock()
        for child in self.state.values():
            process = child.process
            if child.restart_at is None and process is not None and process.poll() is not None:
                if now - child.started_at >= self.healthy_after:
                    child.crashes = 0
                child.crashes += 1
                delay = next_delay(child.crashes, first=self.first_delay, cap=self.max_delay)
                child.restart_at = now + delay
                log.error("supervisor.child_died", child=child.name, exit_code=process.returncode, restart_in=delay)
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                log.info("supervisor.child_restarted", child=child.name, restarts=child.restarts)
                self._launch(child)

    def stop(self, grace_seconds: float = 15.0) -> None:
        running = [c.process for c in self.state.values() if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in self.state.values():
            child.restart_at = None
        log.info("supervisor.stopped", children=len(self.state))
