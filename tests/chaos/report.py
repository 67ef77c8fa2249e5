"""The run's report: load sent, faults injected by type, each invariant with its counts."""

from dataclasses import dataclass

from tests.chaos.faults import Injected
from tests.chaos.invariants import Result
from tests.chaos.load import CallbackLoad, DeptLoad, TicketLoad


@dataclass
class Report:
    seed: int
    load_seconds: float
    drain_seconds: float
    total_seconds: float
    tickets: TicketLoad
    departments: DeptLoad
    callbacks: CallbackLoad
    faults: list[Injected]
    fault_counts: dict[str, int]
    #: Processes that exited by themselves (e.g. refused to start while the broker was down), restarted.
    restarts: dict[str, int]
    #: What had not caught up when a drain step gave up waiting (the invariants then say what is missing).
    drain_notes: list[str]
    results: list[Result]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def render(self) -> str:
        t, d = self.tickets, self.departments
        rate = len(t.accepted) / self.load_seconds if self.load_seconds else 0.0
        lines = [
            f"CHAOS REPORT  seed={self.seed}  load {self.load_seconds:.0f}s  drain {self.drain_seconds:.0f}s"
            f"  total {self.total_seconds:.0f}s  -> {'PASS' if self.ok else 'FAIL'}",
            "load sent:",
            f"  tickets accepted      {len(t.accepted)} ({rate:.1f}/s; {dict(t.channels)})",
            f"  create attempts       {t.attempts} ({t.retried} retries, {t.ambiguous} answers lost,"
            f" {len(t.refused)} refused)",
            f"  department updates    {len(d.sent)} for {len(d.tasks_seen)} lead tasks"
            f" ({d.send_failures} sends retried, {d.abandoned} never got through)",
            f"  poison updates        {len(d.poison)}",
            f"  callbacks recorded    {len(self.callbacks.recorded)} (calls failed: {dict(self.callbacks.failures)})",
            "faults injected:",
            *(f"  {name:<32} {n}" for name, n in self.fault_counts.items()),
            f"  {'(supervisor restarts)':<32} {sum(self.restarts.values())} {self.restarts or ''}",
            *(f"drain: {n}" for n in self.drain_notes),
            "invariants:",
        ]
        for r in self.results:
            counts = ", ".join(f"{k}={v}" for k, v in r.counts.items())
            lines.append(f"  [{'ok' if r.ok else 'FAIL'}] {r.name}: {counts}")
            lines.extend(f"        - {v}" for v in r.violations)
            if r.violation_count > len(r.violations):
                lines.append(f"        ... {r.violation_count - len(r.violations)} more")
        if t.refused:
            lines.append("refused requests (first 5):")
            lines.extend(f"  {x}" for x in t.refused[:5])
        return "\n".join(lines)
