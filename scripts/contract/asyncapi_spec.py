"""The official AsyncAPI 3.0 JSON Schema, from the npm package ``@asyncapi/specs`` at a pinned version,
fetched once with npm into a cache (like deploy/k8s/validate.sh fetches CRDs); nothing third-party is
committed."""

import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

SPECS_VERSION = "6.11.1"
#: The bundled draft-07 schema of AsyncAPI 3.0.0, without its remote ``$id``s.
MEMBER = "package/schemas/3.0.0-without-$id.json"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cityloop" / "asyncapi" / f"specs-{SPECS_VERSION}"


def official_schema() -> dict[str, Any]:
    """The schema, fetched on first use (needs npm and the npm registry once)."""
    target = cache_dir() / "3.0.0.json"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as work:
            subprocess.run(
                ["npm", "pack", f"@asyncapi/specs@{SPECS_VERSION}", "--pack-destination", work, "--silent"],
                check=True,
                capture_output=True,
                timeout=300,
            )
            with tarfile.open(Path(work) / f"asyncapi-specs-{SPECS_VERSION}.tgz") as archive:
                member = archive.extractfile(MEMBER)
                if member is None:
                    raise FileNotFoundError(f"{MEMBER} is not in @asyncapi/specs {SPECS_VERSION}")
                partial = target.with_suffix(".tmp")
                partial.write_bytes(member.read())
                partial.replace(target)
    schema: dict[str, Any] = json.loads(target.read_text())
    return schema
