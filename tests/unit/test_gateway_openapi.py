"""The gateway's OpenAPI document covers every route a caller reaches through it (intake gateway.py),
with a stable, unique operationId on each and every error documented as the JSON error body."""

import json
from typing import Any

from scripts.contract import ROOT
from scripts.contract.openapi import DOCUMENT

from cityloop.common.openapi import operations
from cityloop.intake.gateway import OWNERS


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / DOCUMENT).read_text(encoding="utf-8"))
    return document


def test_the_forwarded_services_routes_are_in_the_gateway_document() -> None:
    ids = {op["operationId"] for _, _, op in operations(_document())}
    routing = {"routing_queue", "routing_record", "routing_confirm", "routing_correct", "routing_arbitrate"}
    master_data = {"departments_list", "departments_get", "categories_list", "categories_get", "jurisdictions_list"}
    corrections = {"corrections_submit", "corrections_list", "corrections_get", "corrections_review"}
    deadlines = {"read_ticket_deadlines", "list_extension_requests", "approve_extension_request"}
    callbacks = {"list_due_callbacks", "record_callback_outcome"}
    own = {"create_ticket", "list_tickets", "get_ticket", "issue_token"}
    assert routing | master_data | corrections | deadlines | callbacks | own <= ids


def test_every_forwarded_segment_has_routes_and_every_operation_a_unique_id() -> None:
    document = _document()
    paths = set(document["paths"])
    served_segments = {p.removeprefix("/api/v1/").split("/")[0] for p in paths if p.startswith("/api/v1/")}
    # emergencies: routes arrive with the emergency work; every other segment the gateway forwards is documented.
    assert set(OWNERS) - {"emergencies"} <= served_segments
    ids = [op.get("operationId") for _, _, op in operations(document)]
    assert None not in ids
    assert len(ids) == len(set(ids))


def test_forwarded_operations_need_the_gateways_sign_in_and_answer_the_error_body() -> None:
    document = _document()
    for path, _, operation in operations(document):
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/auth"):
            continue
        assert operation.get("security"), path
        for code in ("4XX", "5XX"):
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, code)
    assert "HTTPValidationError" not in json.dumps(document["paths"])
