"""`make bench`: every ``tests/bench/bench_*.py`` (or only those named: ``python -m tests.bench intake e2e``)
against the real broker and database; then one table of every figure next to its same-run baseline, also
written to ``.local/bench/results.json`` (``$CITYLOOP_HOME/bench``).

A benchmark module either has ``NEEDS_STACK = True`` and ``async def run(stack)`` (it measures the running
services, tests/bench/stack.py: reused if they answer, else started for the time of these benchmarks), or a
``main()`` of its own (a database and topic prefix of its own). Figures come from ``figures.record``.
Size: BENCH_SCALE=small (about a minute per benchmark) or full (the default, the issue's sizes).
"""

import asyncio
import contextlib
import importlib
import inspect
import os
import pkgutil
import sys
import time
from pathlib import Path
from types import ModuleType

from tests.bench import figures
from tests.bench.stack import HOME, SERVICES, Stack, running_stack

#: Sizes of the benchmarks that read their own environment variable, at BENCH_SCALE=small.
SMALL = {
    "CITYLOOP_BENCH_SCORES_TICKETS": "200000",
    "CITYLOOP_BENCH_EMERGENCY_TICKETS": "1000",
    "CITYLOOP_BENCH_SLA_TIMERS": "100000",
    "CITYLOOP_BENCH_SIGNALS_TICKETS": "300",
}
MIB = 1024


async def _ticker(state: dict[str, object]) -> None:
    """The progress line: which benchmark runs and for how long, every 15 s."""
    while True:
        await asyncio.sleep(15)
        started = state["started"]
        assert isinstance(started, float)
        print(f"  ... [{state['step']}] {state['name']}: {time.monotonic() - started:.0f} s", flush=True)


async def _one(module: ModuleType, name: str, stack: Stack | None, state: dict[str, object]) -> None:
    state.update(name=name, started=time.monotonic())
    figures.begin(name.removeprefix("bench_"))
    print(f"\n=== [{state['step']}] {name} ===", flush=True)
    started = time.monotonic()
    try:
        if stack is not None:
            await module.run(stack)
        else:
            main = module.main
            result = main() if inspect.iscoroutinefunction(main) else await asyncio.to_thread(main)
            if inspect.isawaitable(result):
                await result
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        figures.note(f"FAILED: {exc!r}")
        print(f"=== {name} FAILED: {exc!r}", flush=True)
        raise
    finally:
        print(f"=== {name}: {time.monotonic() - started:.1f} s ===", flush=True)


def _memory_figures(peaks: dict[str, int], hwm: dict[str, int]) -> None:
    from tests.bench.bench_intake import BARE_PEAK_KIB  # noqa: PLC0415 — filled once bench_intake ran

    figures.begin("memory")
    for service in SERVICES:
        if service not in peaks:
            continue
        figures.record(
            f"{service} peak RSS under load",
            peaks[service] / MIB,
            "MiB",
            baseline=BARE_PEAK_KIB[0] / MIB if BARE_PEAK_KIB else None,
            baseline_name="bare FastAPI process",
            better="lower",
            target="<= 200 MB",
            note=f"lifetime peak (VmHWM) {hwm.get(service, 0) / MIB:.0f} MiB",
        )


async def main(selected: list[str]) -> int:
    if figures.SCALE == "small":
        for name, value in SMALL.items():
            os.environ.setdefault(name, value)
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if selected:
        names = [n for n in names if any(s in n for s in selected)]
    if not names:
        print(f"no benchmark matches {selected}")
        return 1
    modules = {n: importlib.import_module(f"tests.bench.{n}") for n in names}
    on_stack = [n for n in names if getattr(modules[n], "NEEDS_STACK", False)]
    alone = [n for n in names if n not in on_stack]
    print(f"make bench ({figures.SCALE} scale): {', '.join(on_stack + alone)}", flush=True)
    state: dict[str, object] = {"name": "", "step": "", "started": time.monotonic()}
    ticker = asyncio.create_task(_ticker(state))
    failed: list[str] = []
    stack_info: dict[str, object] = {}
    try:
        if on_stack:
            async with running_stack() as stack, stack.memory() as memory:
                stack_info = {"gateway": stack.gateway, "started_by_bench": stack.started, "pids": stack.pids()}
                for i, name in enumerate(on_stack, 1):
                    state["step"] = f"{i}/{len(names)}"
                    try:
                        await _one(modules[name], name, stack, state)
                    except Exception:
                        failed.append(name)
            _memory_figures(memory.peak_kib, memory.hwm_kib)
        for i, name in enumerate(alone, len(on_stack) + 1):
            state["step"] = f"{i}/{len(names)}"
            try:
                await _one(modules[name], name, None, state)
            except Exception:
                failed.append(name)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        figures.sample_load("end")
        out = HOME / "bench" / "results.json"
        figures.write_json(out, {"benchmarks": names, "failed": failed, "stack": stack_info})
        print("\n" + figures.table(), flush=True)
        load = ", ".join(f"{when}: {one:.1f}" for when, one, _, _ in figures.RESULTS.load)
        print(f"\nload average (1 min) on this {os.cpu_count()}-core machine: {load}", flush=True)
        for line in figures.RESULTS.notes:
            print(f"  note: {line}", flush=True)
        print(f"written: {out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
