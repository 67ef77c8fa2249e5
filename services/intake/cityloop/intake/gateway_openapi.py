"""The gateway's OpenAPI document: intake's own routes plus every route the gateway forwards (gateway.py).

The services behind the gateway are never imported here: their documents are a snapshot generated from
their apps at build time (``python -m scripts.contract`` writes ``gateway_openapi.json`` beside this file and
``docs/contract/openapi.json``; tests/unit/test_contract_fresh.py fails when either is stale).
"""

import json
from collections.abc import Mapping
from pathlib import Path

from cityloop.common.openapi import API_PREFIX, Document, merge, with_error_bodies
from cityloop.intake.gateway import OWNERS, PUBLIC_OWNERS

SNAPSHOT = Path(__file__).with_name("gateway_openapi.json")


def forwarded(service: str, path: str) -> bool:
    """True when the gateway forwards ``path`` to ``service``."""
    if not path.startswith(f"{API_PREFIX}/"):
        return False
    segment = path.removeprefix(f"{API_PREFIX}/").split("/", 1)[0]
    return service in (OWNERS.get(segment), PUBLIC_OWNERS.get(segment))


def upstream_parts(documents: Mapping[str, Document]) -> dict[str, Document]:
    """From each service's own document, the paths the gateway forwards and the schemas they need."""
    parts: dict[str, Document] = {}
    for service, document in sorted(documents.items()):
        paths = {p: item for p, item in document.get("paths", {}).items() if forwarded(service, p)}
        if paths:
            schemas = document.get("components", {}).get("schemas", {})
            parts[service] = {"paths": paths, "components": {"schemas": schemas}}
    return parts


def load_snapshot() -> dict[str, Document]:
    parts: dict[str, Document] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return parts


def gateway_document(own: Document, upstream: Mapping[str, Document]) -> Document:
    # Errors documented the same way on both sides first, so the shared error schemas merge as one.
    return merge(with_error_bodies(own), upstream, serves=forwarded)
