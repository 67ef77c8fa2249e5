"""OpenAPI documents as the API really answers, and the gateway's document merged from the services'.

FastAPI documents a 422 as its own ``HTTPValidationError``; our handlers answer the JSON error body
(http_errors.py) instead, so ``with_error_bodies`` documents every error of ``/api/v1`` as that body.
``merge`` adds the routes other services serve behind the gateway to the gateway's own document.
Pure functions over plain JSON documents: no service imports another.
"""

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cityloop.common.http_errors import ErrorBody

Document = dict[str, Any]

API_PREFIX = "/api/v1"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def operations(document: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of ``document``."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                yield path, method, operation


def with_error_bodies(document: Document) -> Document:
    """A copy of ``document`` in which every ``/api/v1`` operation documents 4XX/5XX (and 422) as ErrorBody.
    Other paths (Open311 keeps its spec's error format) are left as they are."""
    doc = copy.deepcopy(document)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    # The canonical schemas, replacing FastAPI's rendering of the same models: every document says the same.
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    content = {"application/json": {"schema": _ERROR_REF}}
    for path, _, operation in operations(doc):
        if not path.startswith(API_PREFIX):
            continue
        responses = operation.setdefault("responses", {})
        for code, response in list(responses.items()):
            if code.startswith(("4", "5")):
                response["content"] = copy.deepcopy(content)
        responses.setdefault("4XX", {"description": "Refused: the body names the field and the problem"})
        responses.setdefault(
            "5XX",
            {
                "description": "An unexpected error (500), or 503 `unavailable` with a `Retry-After` header when"
                " the service's database is saturated or away (retry then); with the request id to quote"
            },
        )
        for code in ("4XX", "5XX"):
            responses[code]["content"] = copy.deepcopy(content)
    if "HTTPValidationError" not in _refs(doc["paths"]):
        for name in _FASTAPI_ERROR_SCHEMAS:
            schemas.pop(name, None)
    return doc


def _refs(node: Any) -> set[str]:
    """The component schemas ``node`` refers to directly."""
    if isinstance(node, dict):
        found = set().union(*(_refs(v) for v in node.values())) if node else set()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.removeprefix("#/components/schemas/"))
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                name = value.removeprefix("#/components/schemas/")
                out[key] = f"#/components/schemas/{renames.get(name, name)}"
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def merge(
    gateway: Document,
    services: Mapping[str, Document],
    *,
    serves: Callable[[str, str], bool],
) -> Document:
    """``gateway`` plus, from each service's document, the paths for which ``serves(service, path)``.

    A forwarded operation gets the gateway's security (the caller signs in at the gateway). A component
    schema that two documents define differently is renamed ``<Service><Name>`` in the service's part.
    Two operations with one operationId, or one path served twice, are errors: the document must stay
    usable by a client generator.
    """
    merged = copy.deepcopy(gateway)
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    security: list[dict[str, list[str]]] = [
        {name: []} for name in sorted(merged["components"].get("securitySchemes", {}))
    ]
    tags = {tag["name"] for tag in merged.get("tags", [])}
    operation_ids = {op.get("operationId") for _, _, op in operations(merged)}
    for service, document in sorted(services.items()):
        paths = {p: item for p, item in document.get("paths", {}).items() if serves(service, p)}
        own = document.get("components", {}).get("schemas", {})
        renames = {
            name: f"{service.capitalize()}{name}" for name, s in own.items() if name in schemas and schemas[name] != s
        }
        part = _rewrite_refs({"paths": paths, "schemas": own}, renames)
        for name, schema in part["schemas"].items():
            schemas.setdefault(renames.get(name, name), schema)
        for path, item in part["paths"].items():
            if path in merged["paths"]:
                raise ValueError(f"{path} is served by the gateway and by {service}")
            for method, operation in item.items():
                if method not in _METHODS:
                    continue
                if operation.get("operationId") in operation_ids:
                    raise ValueError(f"operationId {operation.get('operationId')} of {service} is not unique")
                operation_ids.add(operation.get("operationId"))
                if security:
                    operation["security"] = security
                for tag in operation.get("tags", []):
                    if tag not in tags:
                        tags.add(tag)
                        merged.setdefault("tags", []).append({"name": tag, "description": f"served by {service}"})
            merged["paths"][path] = item
    return merged
