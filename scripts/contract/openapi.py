"""The gateway's OpenAPI document, merged from the four services' own documents.

Writes the snapshot of the forwarded services' routes that the gateway serves from
(services/intake/cityloop/intake/gateway_openapi.json) and the whole document a client is generated from
(docs/contract/openapi.json). Building an app connects to nothing: only its routes are read.
"""

import json
from typing import Any

from fastapi import FastAPI

from cityloop.common.openapi import with_error_bodies
from cityloop.feedback.app import create_app as feedback_app
from cityloop.intake.app import create_app as intake_app
from cityloop.intake.gateway_openapi import SNAPSHOT, gateway_document, upstream_parts
from cityloop.router.app import create_app as router_app
from cityloop.sla.app import create_app as sla_app

DOCUMENT = "docs/contract/openapi.json"


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    services = {"router": router_app(), "sla": sla_app(), "feedback": feedback_app()}
    upstream = upstream_parts({name: app.openapi() for name, app in services.items()})
    gateway = intake_app()
    whole = with_error_bodies(gateway_document(FastAPI.openapi(gateway), upstream))
    snapshot = str(SNAPSHOT.relative_to(SNAPSHOT.parents[4]))
    return {snapshot: _json(upstream), DOCUMENT: _json(whole)}
