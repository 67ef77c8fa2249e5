"""The GeoReport v2 response documents, exactly the spec's fields, and their JSON and XML renderings.

JSON follows the spec's Spark convention (a container of repeated elements becomes an array; the root of a
list document disappears); XML is schemaless, no namespace, UTF-8 with a declaration. Both are produced
from the same model, so they cannot drift apart.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class CreatedRequest(BaseModel):
    """POST answer for a realtime service: the id, never a token."""

    service_request_id: str
    service_notice: str | None
    account_id: str | None


class AcceptedRequest(BaseModel):
    """POST answer for a batch service: a token, never the id."""

    token: str
    service_notice: str | None
    account_id: str | None


class TokenAnswer(BaseModel):
    service_request_id: str
    token: str


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Error(BaseModel):
    code: int
    description: str


#: XML element names: the root of each document, and the item element of each repeated container.
ROOTS = {
    Discovery: "discovery",
    Service: "services",
    ServiceDefinition: "service_definition",
    CreatedRequest: "service_requests",
    AcceptedRequest: "service_requests",
    TokenAnswer: "service_requests",
    ServiceRequest: "service_requests",
    Error: "errors",
}
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


#: Characters XML 1.0 forbids (its Char production): C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    # Intake strips these at the edge (libs/common input_guard.py); rows stored before that must not make
    # the whole feed invalid XML either.
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        item = ITEMS[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _text(value)


def to_xml(root: str, payload: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, payload)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def render(document: BaseModel | Sequence[BaseModel], fmt: Format, *, kind: type[BaseModel]) -> bytes:
    """One document (an object) or a list document (services, service_requests, errors)."""
    payload: Any
    if isinstance(document, BaseModel):
        payload = document.model_dump(mode="json")
    else:
        payload = [d.model_dump(mode="json") for d in document]
    if fmt == "json":
        return orjson.dumps(payload)
    return to_xml(ROOTS[kind], payload)
