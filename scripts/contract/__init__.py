"""The published contract under docs/contract/ (and what the gateway ships), generated from the code.

One entry point for every generated contract file: ``python -m scripts.contract`` writes them,
``python -m scripts.contract --check`` exits 1 naming the stale ones. Each generator returns
{path relative to the repository root: text}; tests/unit/test_contract_fresh.py runs the same list.
"""

from collections.abc import Callable
from pathlib import Path

from scripts.contract import openapi

from cityloop.common.contract import publish

ROOT = Path(__file__).resolve().parents[2]

Generator = Callable[[], dict[str, str]]

#: Every generator of a checked-in contract file.
GENERATORS: list[Generator] = [openapi.generate, publish.documents]
#: Folders only generators write: a file there that no generator produces any more is stale too.
OWNED_DIRS = (publish.EVENTS,)


def generate() -> dict[str, str]:
    files: dict[str, str] = {}
    for generator in GENERATORS:
        for path, text in generator().items():
            if path in files:
                raise ValueError(f"{path} is generated twice")
            files[path] = text
    return files


def stale(files: dict[str, str]) -> list[str]:
    """The generated files whose checked-in copy differs (or is missing), and leftovers in owned folders."""
    out = []
    for path, text in sorted(files.items()):
        target = ROOT / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            out.append(path)
    for folder in OWNED_DIRS:
        if (ROOT / folder).is_dir():
            present = (str(f.relative_to(ROOT)) for f in sorted((ROOT / folder).iterdir()))
            out += [p for p in present if p not in files]
    return out


def write(files: dict[str, str]) -> list[str]:
    changed = stale(files)
    for path in changed:
        target = ROOT / path
        if path not in files:
            target.unlink()  # a leftover: no generator produces it any more
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path], encoding="utf-8")
    return changed
