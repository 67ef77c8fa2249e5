"""Open311 GeoReport v2 as a civic app sees it: form POSTs with an api_key, JSON and XML, the spec's errors.

Documents are checked field by field against the spec: exactly its fields, with its types and formats.
"""

import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cityloop.intake.demo import DEMO_OPEN311_KEY
from tests.integration.conftest import Loop, offered_services
from tests.integration.places import hp_address, hp_point

BASE = "/open311/v2"
W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
TEXT, OPT_TEXT, BOOL, INT, OPT_FLOAT, DATETIME, OPT_DATETIME = "text", "text?", "bool", "int", "float?", "dt", "dt?"

# The spec's fields of each document, in the spec's order, with the type each must have.
SERVICE = {
    "service_code": TEXT,
    "service_name": TEXT,
    "description": TEXT,
    "metadata": BOOL,
    "type": TEXT,
    "keywords": TEXT,
    "group": TEXT,
}
ATTRIBUTE = {
    "variable": BOOL,
    "code": TEXT,
    "datatype": TEXT,
    "required": BOOL,
    "datatype_description": OPT_TEXT,
    "order": INT,
    "description": TEXT,
    "values": "values",
}
SERVICE_REQUEST = {
    "service_request_id": TEXT,
    "status": TEXT,
    "status_notes": OPT_TEXT,
    "service_name": TEXT,
    "service_code": TEXT,
    "description": TEXT,
    "agency_responsible": OPT_TEXT,
    "service_notice": OPT_TEXT,
    "requested_datetime": DATETIME,
    "updated_datetime": DATETIME,
    "expected_datetime": OPT_DATETIME,
    "address": OPT_TEXT,
    "address_id": OPT_TEXT,
    "zipcode": OPT_TEXT,
    "lat": OPT_FLOAT,
    "long": OPT_FLOAT,
    "media_url": OPT_TEXT,
}
CREATED = {"service_request_id": TEXT, "service_notice": OPT_TEXT, "account_id": OPT_TEXT}
ACCEPTED = {"token": TEXT, "service_notice": OPT_TEXT, "account_id": OPT_TEXT}
TOKEN = {"service_request_id": TEXT, "token": TEXT}
ERROR = {"code": INT, "description": TEXT}


def check_json(document: dict[str, Any], spec: dict[str, str]) -> None:
    assert list(document) == list(spec), "exactly the spec's fields, in its order"
    for name, declared in spec.items():
        value = document[name]
        if declared.endswith("?") and value is None:
            continue
        kind = declared.rstrip("?")
        if kind == TEXT:
            assert isinstance(value, str), name
        elif kind == BOOL:
            assert isinstance(value, bool), name
        elif kind == INT:
            assert isinstance(value, int), name
            assert not isinstance(value, bool), name
        elif kind == "float":
            assert isinstance(value, float), name
        elif kind == DATETIME:
            assert isinstance(value, str), name
            assert W3.match(value), (name, value)
        elif kind == "values":
            assert isinstance(value, list)
            for item in value:
                assert list(item) == ["key", "name"]
                assert all(isinstance(v, str) for v in item.values())


def check_xml(element: ET.Element, spec: dict[str, str]) -> dict[str, Any]:
    """The same checks on an XML element; returns its values parsed to the spec's types."""
    assert [child.tag for child in element] == list(spec)
    parsed: dict[str, Any] = {}
    for child in element:
        declared, text = spec[child.tag], child.text
        if declared.endswith("?") and text is None:
            parsed[child.tag] = None
            continue
        kind = declared.rstrip("?")
        if kind == BOOL:
            assert text in {"true", "false"}, child.tag
            parsed[child.tag] = text == "true"
        elif kind == INT:
            assert text is not None, child.tag
            assert text.isdigit(), child.tag
            parsed[child.tag] = int(text)
        elif kind == "float":
            assert text is not None
            parsed[child.tag] = float(text)
        elif kind == DATETIME:
            assert text is not None, child.tag
            assert W3.match(text), (child.tag, text)
            parsed[child.tag] = text
        elif kind == "values":
            parsed[child.tag] = [{v.tag: v.text for v in value} for value in child]
            assert all(value.tag == "value" and [v.tag for v in value] == ["key", "name"] for value in child)
        else:
            assert text is not None, child.tag
            parsed[child.tag] = text
    return parsed


def xml_root(response: httpx.Response, tag: str) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.content)
    assert root.tag == tag
    return root


def json_body(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def form(**fields: str) -> dict[str, str]:
    return {"api_key": DEMO_OPEN311_KEY, **fields}


def pothole(**changes: str) -> dict[str, str]:
    """A valid pothole report; ``changes`` replace fields (attribute fields spelled attribute[code])."""
    lat, lon = hp_point()  # a place of its own: the real router never merges these (并单)
    body = form(
        service_code="transport.pothole",
        lat=f"{lat:.6f}",
        long=f"{lon:.6f}",
        address_string=hp_address(),
        description=f"路面有大坑 {uuid.uuid4().hex[:8]}",
        first_name="小红",
        last_name="李",
        phone="13900001111",
        media_url="https://files.example.cn/p/1.jpg",
        account_id="app-user-42",
        **{"attribute[size]": "large", "attribute[depth_cm]": "12"},
    )
    return body | changes


async def test_discovery_in_json_and_xml(loop: Loop) -> None:
    document = json_body(await loop.intake.get(f"{BASE}/discovery.json"))
    assert list(document) == ["changeset", "contact", "key_service", "endpoints"]
    assert all(isinstance(document[k], str) for k in ("changeset", "contact", "key_service"))
    (endpoint,) = document["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://127.0.0.1:8000/open311/v2",
        "changeset": document["changeset"],
        "type": "test",
        "formats": ["text/xml", "application/json"],
    }
    root = xml_root(await loop.intake.get(f"{BASE}/discovery.xml"), "discovery")
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    (xml_endpoint,) = root.find("endpoints") or []
    assert xml_endpoint.tag == "endpoint"
    assert [c.tag for c in xml_endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in xml_endpoint.find("formats") or []] == ["text/xml", "application/json"]


async def test_services_and_service_definitions_with_typed_attributes(loop: Loop) -> None:
    services = json_body(await loop.intake.get(f"{BASE}/services.json"))
    for service in services:
        check_json(service, SERVICE)
    by_code = {s["service_code"]: s for s in services}
    # Every category a citizen can report, from router's catalogue (events on catalogue.services), in
    # catalogue order; 110/119/120/122 matters are not offered.
    assert [s["service_code"] for s in services] == offered_services()
    assert len(services) > 100
    assert "handover.fire" not in by_code
    assert by_code["transport.pothole"]["metadata"] is True
    assert by_code["water.outage"]["type"] == "batch"
    assert {code for code, s in by_code.items() if s["metadata"]} == {
        "sanitation.garbage",
        "transport.pothole",
        "water.outage",
        "housing.elevator",
        "housing.leak",
    }
    garbage = by_code["sanitation.garbage"]
    assert (garbage["service_name"], garbage["group"]) == ("垃圾清运", "市容环卫")
    assert "清运" in garbage["keywords"].split(",")
    assert garbage["description"].startswith("垃圾清运，例如：")
    root = xml_root(await loop.intake.get(f"{BASE}/services.xml"), "services")
    assert [check_xml(s, SERVICE) for s in root] == services

    definition = json_body(await loop.intake.get(f"{BASE}/services/transport.pothole.json"))
    assert list(definition) == ["service_code", "attributes"]
    assert definition["service_code"] == "transport.pothole"
    for attribute in definition["attributes"]:
        check_json(attribute, ATTRIBUTE)
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in definition["attributes"]] == [
        ("size", "singlevaluelist", True, 1),
        ("depth_cm", "number", False, 2),
        ("lane", "string", False, 3),
    ]
    assert [v["key"] for v in definition["attributes"][0]["values"]] == ["small", "medium", "large"]
    root = xml_root(await loop.intake.get(f"{BASE}/services/transport.pothole.xml"), "service_definition")
    assert root.findtext("service_code") == "transport.pothole"
    attributes = root.find("attributes")
    assert attributes is not None
    assert [check_xml(a, ATTRIBUTE) for a in attributes] == definition["attributes"]
    water = json_body(await loop.intake.get(f"{BASE}/services/water.outage.json"))
    assert {a["datatype"] for a in water["attributes"]} == {"datetime", "number", "text", "string"}
    assert [a["variable"] for a in water["attributes"]] == [True, True, True, False]


@pytest.mark.parametrize(
    ("service_code", "attributes", "typed"),
    [
        (
            "housing.elevator",
            {"attribute[elevator_id]": "沪DT-3101-0089", "attribute[floor]": "7"},
            {"elevator_id": "沪DT-3101-0089", "floor": 7},
        ),
        ("housing.leak", {"attribute[floor]": "-1", "attribute[where]": "ceiling"}, {"floor": -1, "where": "ceiling"}),
    ],
)
async def test_typed_attributes_from_the_catalogue_round_trip(
    loop: Loop, service_code: str, attributes: dict[str, str], typed: dict[str, object]
) -> None:
    definition = json_body(await loop.intake.get(f"{BASE}/services/{service_code}.json"))
    required = [a["code"] for a in definition["attributes"] if a["required"]]
    assert required
    sent = form(service_code=service_code, address_string=hp_address(), description="电梯坏了/楼上渗水", **attributes)
    response = await loop.intake.post(f"{BASE}/requests.json", data=sent)
    assert response.status_code == 200, response.text
    (answer,) = json_body(response)
    ticket = (await loop.intake.get(f"/api/v1/tickets/{answer['service_request_id']}")).json()
    assert ticket["attributes"] == typed
    assert ticket["category"] == service_code
    # Without a required attribute: a 400 in the spec's error format, naming it.
    missing = {k: v for k, v in sent.items() if k != f"attribute[{required[0]}]"}
    refused = await loop.intake.post(f"{BASE}/requests.json", data=missing)
    assert refused.status_code == 400
    (error,) = json_body(refused)
    assert error["code"] == 400
    assert f"attribute[{required[0]}]" in error["description"]


async def test_create_by_form_post_with_a_key_and_read_it_by_id(loop: Loop) -> None:
    sent = pothole()
    response = await loop.intake.post(f"{BASE}/requests.json", data=sent)
    assert response.status_code == 200, response.text
    (answer,) = json_body(response)
    check_json(answer, CREATED)
    assert answer["account_id"] == "app-user-42"
    request_id = answer["service_request_id"]

    (document,) = json_body(await loop.intake.get(f"{BASE}/requests/{request_id}.json"))
    check_json(document, SERVICE_REQUEST)
    assert document["service_request_id"] == request_id
    assert document["status"] == "open"
    assert document["service_code"] == "transport.pothole"
    assert document["service_name"] == "道路坑洼"
    assert document["description"] == sent["description"]
    assert document["media_url"] == "https://files.example.cn/p/1.jpg"
    assert (document["lat"], document["long"]) == (round(float(sent["lat"]), 3), round(float(sent["long"]), 3))
    assert document["address"] is not None
    assert document["address"] != sent["address_string"]  # the exact address is personal data
    assert document["address"].startswith(sent["address_string"][:3])
    assert document["requested_datetime"].endswith("+08:00")

    root = xml_root(await loop.intake.get(f"{BASE}/requests/{request_id}.xml"), "service_requests")
    (request,) = root
    assert request.tag == "request"
    assert check_xml(request, SERVICE_REQUEST) == document

    # The operators' API sees the same ticket, with the attributes typed and the citizen masked.
    ticket = (await loop.intake.get(f"/api/v1/tickets/{request_id}")).json()
    assert ticket["channel"] == "open311"
    assert ticket["attributes"] == {"size": "large", "depth_cm": 12}
    assert ticket["citizen"]["name"] == "李**"
    assert ticket["created_by"] == "open311:demo civic app"

    xml_post = await loop.intake.post(f"{BASE}/requests.xml", data=pothole())
    (xml_answer,) = xml_root(xml_post, "service_requests")
    assert check_xml(xml_answer, CREATED)["service_request_id"].startswith("T")


async def test_a_batch_service_answers_a_token_that_leads_to_the_request(loop: Loop) -> None:
    sent = form(
        service_code="water.outage",
        address_string=hp_address(),
        description=f"整栋楼停水 {uuid.uuid4().hex[:8]}",
        **{"attribute[since]": "2026-11-22T07:30:00+08:00", "attribute[households]": "40"},
    )
    (answer,) = json_body(await loop.intake.post(f"{BASE}/requests.json", data=sent))
    check_json(answer, ACCEPTED)
    token = answer["token"]
    (resolved,) = json_body(await loop.intake.get(f"{BASE}/tokens/{token}.json"))
    check_json(resolved, TOKEN)
    assert resolved["token"] == token
    (document,) = json_body(await loop.intake.get(f"{BASE}/requests/{resolved['service_request_id']}.json"))
    assert document["description"] == sent["description"]
    (xml_token,) = xml_root(await loop.intake.get(f"{BASE}/tokens/{token}.xml"), "service_requests")
    assert check_xml(xml_token, TOKEN) == resolved

    (xml_answer,) = xml_root(await loop.intake.post(f"{BASE}/requests.xml", data=sent), "service_requests")
    assert check_xml(xml_answer, ACCEPTED)["token"] != token


async def test_list_requests_with_the_spec_filters(loop: Loop) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    (pothole_answer,) = json_body(await loop.intake.post(f"{BASE}/requests.json", data=pothole()))
    garbage = form(service_code="sanitation.garbage", address_string=hp_address())
    (garbage_answer,) = json_body(await loop.intake.post(f"{BASE}/requests.json", data=garbage))
    ids = {pothole_answer["service_request_id"], garbage_answer["service_request_id"]}

    async def listed(fmt: str = "json", **params: str) -> list[dict[str, Any]]:
        response = await loop.intake.get(f"{BASE}/requests.{fmt}", params=params)
        assert response.status_code == 200, response.text
        if fmt == "xml":
            return [check_xml(r, SERVICE_REQUEST) for r in xml_root(response, "service_requests")]
        documents: list[dict[str, Any]] = json_body(response)
        for document in documents:
            check_json(document, SERVICE_REQUEST)
        return documents

    since = before.isoformat().replace("+00:00", "Z")
    recent = await listed(start_date=since)
    assert ids <= {r["service_request_id"] for r in recent}
    only_potholes = await listed(service_code="transport.pothole", start_date=since)
    assert {r["service_code"] for r in only_potholes} == {"transport.pothole"}
    assert pothole_answer["service_request_id"] in {r["service_request_id"] for r in only_potholes}
    both = await listed(service_code="transport.pothole,sanitation.garbage", status="open", start_date=since)
    assert ids <= {r["service_request_id"] for r in both}
    assert all(r["status"] == "open" for r in both)
    assert ids.isdisjoint(r["service_request_id"] for r in await listed(status="closed", start_date=since))
    past = (before - timedelta(days=10)).isoformat()
    assert ids.isdisjoint(
        r["service_request_id"]
        for r in await listed(start_date=past, end_date=(before - timedelta(days=9)).isoformat())
    )
    by_id = await listed(service_request_id=",".join(sorted(ids)), status="closed")  # ids override the rest
    assert {r["service_request_id"] for r in by_id} == ids
    assert {r["service_request_id"] for r in await listed("xml", start_date=since)} >= ids


ERROR_CASES: list[tuple[str, str, dict[str, str], int, str]] = [
    (
        "missing key",
        "requests",
        {"service_code": "transport.pothole", "lat": "31.23", "long": "121.47"},
        403,
        "api_key",
    ),
    ("wrong key", "requests", form(service_code="transport.pothole") | {"api_key": "stolen"}, 403, "api_key"),
    ("unknown service", "requests", form(service_code="fireworks", lat="31.23", long="121.47"), 404, "fireworks"),
    ("no service", "requests", form(lat="31.23", long="121.47"), 400, "service_code"),
    ("latitude not a number", "requests", pothole(lat="north"), 400, "lat"),
    ("latitude out of range", "requests", pothole(lat="123.0"), 400, "lat"),
    ("outside the city", "requests", pothole(lat="39.9042", long="116.4074"), 400, "outside"),
    ("long without lat", "requests", form(service_code="sanitation.garbage", long="121.47"), 400, "lat and long"),
    ("no location at all", "requests", form(service_code="sanitation.garbage"), 400, "location is required"),
    ("required attribute missing", "requests", pothole(**{"attribute[size]": ""}), 400, "attribute[size]"),
    ("attribute not in list", "requests", pothole(**{"attribute[size]": "huge"}), 400, "attribute[size]"),
    ("attribute not a number", "requests", pothole(**{"attribute[depth_cm]": "deep"}), 400, "attribute[depth_cm]"),
    ("other jurisdiction", "requests", pothole(jurisdiction_id="sfgov.org"), 404, "jurisdiction_id"),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
async def test_post_errors_in_the_spec_format(
    loop: Loop, fmt: str, case: tuple[str, str, dict[str, str], int, str]
) -> None:
    name, resource, data, status, says = case
    response = await loop.intake.post(f"{BASE}/{resource}.{fmt}", data=data)
    assert response.status_code == status, (name, response.text)
    if fmt == "json":
        errors = json_body(response)
        assert isinstance(errors, list)
        assert errors
        for error in errors:
            check_json(error, ERROR)
    else:
        errors = [check_xml(e, ERROR) for e in xml_root(response, "errors")]
        assert errors
    assert all(e["code"] == status for e in errors)
    assert any(says in e["description"] for e in errors), (name, errors)


GET_ERRORS: list[tuple[str, str, int, str]] = [
    ("unknown service definition", "services/fireworks", 404, "fireworks"),
    ("unknown request", "requests/T19990101-0000000", 404, "T19990101-0000000"),
    ("unknown token", "tokens/nope", 404, "nope"),
    ("bad date", "requests?start_date=yesterday", 400, "start_date"),
    ("date without zone", "requests?start_date=2026-01-01T00:00:00", 400, "time zone"),
    ("span over 90 days", "requests?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400, "90 days"),
    ("bad status", "requests?status=pending", 400, "status"),
    ("other jurisdiction", "services?jurisdiction_id=sfgov.org", 404, "jurisdiction_id"),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", GET_ERRORS, ids=[c[0] for c in GET_ERRORS])
async def test_get_errors_in_the_spec_format(loop: Loop, fmt: str, case: tuple[str, str, int, str]) -> None:
    name, resource, status, says = case
    path, _, query = resource.partition("?")
    response = await loop.intake.get(f"{BASE}/{path}.{fmt}" + (f"?{query}" if query else ""))
    assert response.status_code == status, (name, response.text)
    errors = json_body(response) if fmt == "json" else [check_xml(e, ERROR) for e in xml_root(response, "errors")]
    assert [e["code"] for e in errors] == [status]
    assert says in errors[0]["description"]


async def test_unknown_format_and_rate_limit(loop: Loop) -> None:
    unknown = await loop.intake.get(f"{BASE}/services.csv")
    assert unknown.status_code == 404
    assert json_body(unknown)[0]["code"] == 404
    limit = int(loop.apps["intake"].state.settings.open311_rate_limit.split("/")[0])
    async with loop.client({}, client_address="127.0.0.99") as app:
        statuses = [(await app.get(f"{BASE}/discovery.xml")).status_code for _ in range(limit)]
        assert set(statuses) == {200}
        over = await app.get(f"{BASE}/discovery.xml")
        assert over.status_code == 429
        assert [check_xml(e, ERROR)["code"] for e in xml_root(over, "errors")] == [429]
    async with loop.client({}, client_address="127.0.0.98") as other_app:
        assert (await other_app.get(f"{BASE}/discovery.json")).status_code == 200
