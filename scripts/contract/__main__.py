"""``python -m scripts.contract [--check]``: write the generated contract files, or check they are fresh."""

import sys

from scripts.contract import generate, stale, write


def main(argv: list[str]) -> int:
    files = generate()
    if "--check" in argv:
        old = stale(files)
        for path in old:
            print(f"stale: {path} (run python -m scripts.contract)", file=sys.stderr)
        return 1 if old else 0
    for path in write(files):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
