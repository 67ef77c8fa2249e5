"""``make chaos DURATION=30m``: the long form of the fault harness; prints the report, exit 1 on a violation.

python -m tests.chaos --duration 30m [--rate 60] [--seed N] [--home DIR]
"""

import argparse
import asyncio
import random
import re
import sys
import tempfile
from pathlib import Path

from tests.chaos import harness


def parse_duration(text: str) -> float:
    """Seconds in ``30m``, ``90s``, ``1h``, ``1h30m`` or a bare number of seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 90s, 1h30m)")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def rounds_for(seconds: float) -> int:
    """Rounds of every fault type that fit in ``seconds`` of load: about one round a minute and a half."""
    return max(1, int(seconds // 90))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--duration", default="10m", type=parse_duration)
    parser.add_argument("--rate", default=60.0, type=float, help="tickets per second asked of intake")
    parser.add_argument("--seed", default=None, type=int)
    parser.add_argument("--rounds", default=None, type=int, help="rounds of every fault type (default: one per 90 s)")
    parser.add_argument("--short", action="store_true", help="the short form's plan: one kill per service")
    parser.add_argument("--home", default=None, type=Path, help="private broker/PostgreSQL home (default: a temp dir)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    home = args.home or Path(tempfile.mkdtemp(prefix="cityloop-chaos-"))
    options = harness.Options(
        home=home,
        seed=seed,
        load_seconds=args.duration,
        rate=args.rate,
        rounds=args.rounds or rounds_for(args.duration),
        kill_each=not args.short,
    )
    report = asyncio.run(harness.run(options))
    print(report.render(), flush=True)
    print(f"logs: {home / 'logs'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
