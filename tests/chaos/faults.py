"""The faults: a seeded plan (a pure function of the seed and the load window) and the injector that
carries it out against the stack, one fault after the other at random moments."""

import asyncio
import random
import time
from dataclasses import dataclass, field

from tests.chaos.services import MAX_POLL_INTERVAL_MS, Stack

KILL = "kill -9 + restart"
BROKER = "broker restart"
POSTGRES = "postgres restart"
PAUSE = "paused past max.poll.interval"
REPLICA = "one of two replicas down"
TYPES = (KILL, BROKER, POSTGRES, PAUSE, REPLICA)
#: How long a paused process stays stopped: past max.poll.interval.ms (and the session timeout).
PAUSE_SECONDS = MAX_POLL_INTERVAL_MS / 1000 + 4
REPLICA_DOWN_SECONDS = 10.0


@dataclass(frozen=True)
class Fault:
    type: str
    target: str  # a process name ("router-2"), or "kafka" (clean stop) / "kafka -9" (crash) / "postgres"
    gap: float  # seconds of load before it


@dataclass
class Injected:
    fault: Fault
    at: float  # seconds since the load started
    took: float


def one_round(rng: random.Random, processes: list[str], *, kill_each: bool = True) -> list[tuple[str, str]]:
    """Every fault type once; kill -9 of every process (or of one replica per service)."""
    services = sorted({p.split("-")[0] for p in processes})
    if kill_each:
        kills = list(processes)
    else:
        kills = [rng.choice([p for p in processes if p.split("-")[0] == s]) for s in services]
    replicated = [p for p in processes if "-" in p]
    faults = [(KILL, p) for p in kills]
    faults += [(BROKER, rng.choice(["kafka", "kafka -9"])), (POSTGRES, "postgres")]
    faults += [(PAUSE, rng.choice(replicated)), (REPLICA, rng.choice(replicated))]
    rng.shuffle(faults)
    return faults


def plan(seed: int, processes: list[str], *, window: float, rounds: int, kill_each: bool = True) -> list[Fault]:
    """``rounds`` rounds of every fault type, spread at random over ``window`` seconds of load."""
    rng = random.Random(seed)
    chosen = [f for _ in range(rounds) for f in one_round(rng, processes, kill_each=kill_each)]
    mean_gap = window / (len(chosen) + 1)
    return [Fault(type_, target, rng.uniform(0.3, 1.0) * mean_gap) for type_, target in chosen]


@dataclass
class Injector:
    stack: Stack
    faults: list[Fault]
    rng: random.Random
    done: list[Injected] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        started = time.monotonic()
        for fault in self.faults:
            try:
                await asyncio.wait_for(stop.wait(), fault.gap)
                return
            except TimeoutError:
                pass
            at = time.monotonic() - started
            print(f"chaos: t={at:6.1f}s {fault.type}: {fault.target}", flush=True)
            await self.inject(fault)
            self.done.append(Injected(fault, at, time.monotonic() - started - at))

    async def inject(self, fault: Fault) -> None:
        infra = self.stack.infra
        if fault.type == BROKER:
            await infra.restart_kafka(crash=fault.target == "kafka -9")
        elif fault.type == POSTGRES:
            await infra.restart_postgres()
        else:
            process = self.stack.processes[fault.target]
            if fault.type == KILL:
                process.held_down = True
                process.kill9()
                await asyncio.sleep(self.rng.uniform(0.2, 2.0))
                process.held_down = False
                process.start()
            elif fault.type == PAUSE:
                process.pause()
                await asyncio.sleep(PAUSE_SECONDS)
                process.resume()
            elif fault.type == REPLICA:
                process.held_down = True
                process.kill9()  # its twin takes its partitions over after the session timeout
                await asyncio.sleep(REPLICA_DOWN_SECONDS)
                process.held_down = False
                process.start()

    def counts(self) -> dict[str, int]:
        return {t: sum(1 for i in self.done if i.fault.type == t) for t in TYPES}
