"""The published contract under docs/contract/ (and what the gateway ships), generated from the code.

One entry point for every generated contract file: ``python -m scripts.contract`` writes them,
``python -m scripts.contract --check`` exits 1 naming the stale ones. Each generator returns
{path relative to the repository root: text}; tests/unit/test_contract_fresh.py runs the same list.
"""

from collections.abc import Callable
from pathlib import Path

from scripts.contract import openapi

ROOT = Path(__file__).resolve().parents[2]

Generator = Callable[[], dict[str, str]]

#: Every generator of a checked-in contract file.
GENERATORS: list[Generator] = [openapi.generate]


def generate() -> dict[str, str]:
    files: dict[str, str] = {}
    for generator in GENERATORS:
        for path, text in generator().items():
            if path in files:
                raise ValueError(f"{path} is generated twice")
            files[path] = text
    return files


def stale(files: dict[str, str]) -> list[str]:
    """The generated files whose checked-in copy differs (or is missing)."""
    out = []
    for path, text in sorted(files.items()):
        target = ROOT / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    return out


def write(files: dict[str, str]) -> list[str]:
    changed = stale(files)
    for path in changed:
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path], encoding="utf-8")
    return changed
