"""HTTP load from outside the Python processes: wrk (Debian's package, installed on first use) with
tests/bench/lua/post_json.lua, at full speed or at a fixed rate.

wrk has no fixed-rate mode of its own (wrk2 is not in Debian): the script gives every request the next slot
of a per-thread schedule through wrk's ``delay()`` hook. Latency is timed from when a request is sent, so a
server that falls behind its schedule hides part of its queueing (coordinated omission): the fixed-rate runs
use half the sustained rate, where the server keeps up, and the report gives the achieved rate next to the
asked one.
"""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SCRIPT = Path(__file__).parent / "lua" / "post_json.lua"
CONNECTIONS = 32
THREADS = 2


def ensure_wrk() -> str:
    """wrk's path; installs Debian's ``wrk`` package the first time (as `make observe` does prometheus)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing Debian's wrk package (HTTP load generator) ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is missing after installing Debian's wrk package")
    return found


@dataclass
class Run:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


async def post(
    url: str,
    bodies: Sequence[Mapping[str, Any]],
    *,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    rate: float | None = None,
    idempotency: bool = False,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
    method: str = "POST",
) -> Run:
    """POST ``bodies`` round robin to ``url`` for ``seconds`` with ``connections`` connections (``method``
    GET: the same request again and again, no body)."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="cityloop-bench-") as tmp:
        folder = Path(tmp)
        (folder / "bodies.jsonl").write_bytes(b"\n".join(orjson.dumps(b) for b in bodies) + b"\n")
        (folder / "headers.txt").write_text("".join(f"{k}: {v}\n" for k, v in (headers or {}).items()))
        env = {
            **os.environ,
            "BENCH_BODIES": str(folder / "bodies.jsonl"),
            "BENCH_HEADERS": str(folder / "headers.txt"),
            "BENCH_OUT": str(folder / "out.json"),
            "BENCH_THREADS": str(threads),
            "BENCH_METHOD": method,
        }
        if idempotency:
            env["BENCH_KEY"] = f"bench-{uuid.uuid4().hex[:12]}"
        if rate:
            env["BENCH_RATE"] = f"{rate:.3f}"
        if rate:
            # At a low fixed rate 32 connections would each sit idle for seconds and the server's keep-alive
            # timeout would close them under wrk (read errors): about one connection per 4 requests/s.
            connections = max(threads * 2, min(connections, int(rate / 4)))
        argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
        argv += ["-s", str(SCRIPT), url]
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await proc.communicate()
        out = folder / "out.json"
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {output.decode(errors='replace')}")
        data = json.loads(out.read_text())
    latency = data["latency_ms"]
    return Run(
        requests=int(data["requests"]),
        seconds=float(data["duration_s"]),
        errors={k: int(v) for k, v in data["errors"].items()},
        p50_ms=float(latency["p50"]),
        p90_ms=float(latency["p90"]),
        p99_ms=float(latency["p99"]),
        max_ms=float(latency["max"]),
    )


async def get(url: str, *, seconds: float, headers: Mapping[str, str] | None = None) -> Run:
    """GET ``url`` at full speed for ``seconds``."""
    return await post(url, [{}], seconds=seconds, headers=headers, method="GET")
