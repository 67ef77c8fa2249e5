"""What `make bench` reports: every figure next to its baseline measured in the same run on the same machine,
one table at the end, and ``.local/bench/results.json`` (machine, versions, date, every figure).

A benchmark calls ``record(...)`` for each figure it measured; the runner (``__main__.py``) collects them.
"""

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Literal

#: BENCH_SCALE=small runs every benchmark at a size that takes about a minute each; "full" is the issue's.
SCALE: Literal["small", "full"] = "small" if os.environ.get("BENCH_SCALE", "full") == "small" else "full"


def sized(full: float, small: float) -> float:
    """A size or duration by scale; an explicit environment variable in the benchmark wins over both."""
    return small if SCALE == "small" else full


@dataclass
class Figure:
    bench: str
    name: str
    value: float
    unit: str
    #: What the same work costs with nothing of ours in the way, measured in the same run; None: no baseline.
    baseline: float | None = None
    baseline_name: str = ""
    #: "higher" (rates) or "lower" (latencies, memory) is better; the ratio is always value / baseline.
    better: Literal["higher", "lower"] = "higher"
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load: list[tuple[str, float, float, float]] = field(default_factory=list)  # (when, 1, 5, 15 min)


RESULTS = Results()
_current = ["bench"]


def begin(bench: str) -> None:
    _current[0] = bench
    sample_load(f"before {bench}")


def record(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str = "",
    better: Literal["higher", "lower"] = "higher",
    target: str = "",
    note: str = "",
) -> Figure:
    figure = Figure(_current[0], name, float(value), unit, baseline, baseline_name, better, target, note)
    RESULTS.figures.append(figure)
    return figure


def note(text: str) -> None:
    RESULTS.notes.append(f"{_current[0]}: {text}")


def sample_load(when: str) -> None:
    one, five, fifteen = os.getloadavg()
    RESULTS.load.append((when, one, five, fifteen))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(results: Results = RESULTS) -> str:
    """The one table `make bench` prints (also the README's)."""
    header = ("bench", "figure", "value", "baseline (same run)", "ratio", "target")
    rows = [header]
    for f in results.figures:
        base = f"{_fmt(f.baseline, f.unit)} {f.baseline_name}".strip() if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        rows.append((f.bench, f.name, _fmt(f.value, f.unit), base, ratio, f.target))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _command(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "unknown"


def machine() -> dict[str, object]:
    cpu = "unknown"
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.exists():
        cpu = next(
            (line.split(":", 1)[1].strip() for line in with_cpuinfo.read_text().splitlines() if "model name" in line),
            "unknown",
        )
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kib = int(meminfo.read_text().split()[1])
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
    }


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "wrk": _command(["wrk", "--version"])}
    for package in ("fastapi", "uvicorn", "starlette", "pydantic", "asyncpg", "aiokafka", "orjson", "uvloop"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def write_json(path: Path, extra: dict[str, object], results: Results = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": SCALE,
        "machine": machine(),
        "versions": versions(),
        "load_average": [{"when": w, "1m": a, "5m": b, "15m": c} for w, a, b, c in results.load],
        **extra,
        "figures": [{**asdict(f), "ratio": f.ratio} for f in results.figures],
        "notes": results.notes,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
