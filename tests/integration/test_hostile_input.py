"""Hostile input gets a 4xx in the JSON error format, never a 500 (issue 11, "Hardening").

Everything goes through the gateway as a client would; the Open311 feed must stay valid XML.
"""

import base64
import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI
from starlette.types import Message

from cityloop.common.http_errors import install_error_handlers
from tests.integration.conftest import Loop
from tests.integration.test_intake_tickets import ticket
from tests.integration.test_open311 import BASE, form, pothole

BIG = str(2**63)


def refused(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert field in [f["field"] for f in body["fields"]], body
    return body


async def test_nul_and_controls_in_json_fields_are_refused_in_identifiers(loop: Loop) -> None:
    refused(await loop.intake.post("/api/v1/tickets", json=ticket(category="sanitation.\x00garbage")), 422, "category")
    citizen = {"name": "张\x00三", "phone": "13812341234"}
    refused(await loop.intake.post("/api/v1/tickets", json=ticket(citizen=citizen)), 422, "citizen.name")
    refused(await loop.intake.post("/api/v1/tickets", json=ticket(channel="hot\x01line")), 422, "channel")


async def test_controls_in_free_text_are_stripped_and_stored_clean(loop: Loop) -> None:
    tag = uuid.uuid4().hex[:8]
    created = await loop.intake.post("/api/v1/tickets", json=ticket(description=f"垃圾\x00没人\x01清运\t{tag}\n"))
    assert created.status_code == 201, created.text
    read = await loop.intake.get(f"/api/v1/tickets/{created.json()['id']}")
    assert read.json()["description"] == f"垃圾没人清运\t{tag}\n"


async def test_nul_and_big_integers_in_query_parameters_name_the_parameter(loop: Loop) -> None:
    refused(await loop.intake.get("/api/v1/tickets?status=open%00"), 422, "status")
    refused(await loop.intake.get("/api/v1/tickets?q=%01"), 422, "q")
    refused(await loop.intake.get(f"/api/v1/tickets?limit={BIG}"), 422, "limit")
    # forwarded parts of the API too (router, sla, feedback)
    refused(await loop.intake.get("/api/v1/routing/merges?cursor=%00"), 422, "cursor")
    refused(await loop.intake.get(f"/api/v1/routing/merges?limit={BIG}"), 422, "limit")
    refused(await loop.intake.get(f"/api/v1/scores/recurring?limit=-{BIG}9"), 422, "limit")


async def test_big_integers_in_json_bodies_name_the_field(loop: Loop) -> None:
    body = ticket(location={"lat": 2**64, "lon": 121.5})
    refused(await loop.intake.post("/api/v1/tickets", json=body), 422, "location.lat")


async def test_control_characters_and_big_ids_in_paths(loop: Loop) -> None:
    refused(await loop.intake.get("/api/v1/tickets/T%00"), 400, "path")
    refused(await loop.intake.get("/api/v1/routing/T%01x"), 400, "path")
    refused(await loop.intake.get(f"/api/v1/tickets/{BIG}"), 422, "path")
    refused(await loop.intake.get(f"/api/v1/corrections/{BIG}"), 422, "path")


async def test_a_cursor_with_an_out_of_range_date_names_the_cursor(loop: Loop) -> None:
    for raw in (["99999-01-01T00:00:00Z", "T1"], ["0000-01-01T00:00:00Z", "T1"], [2**70, "x"], ["\x00", "x"]):
        cursor = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()
        refused(await loop.intake.get("/api/v1/tickets", params={"cursor": cursor.rstrip("=")}), 422, "cursor")
        refused(await loop.intake.get("/api/v1/routing/merges", params={"cursor": cursor}), 422, "cursor")


async def test_login_form_with_nul_is_a_422(loop: Loop) -> None:
    async with loop.anonymous() as anonymous:
        response = await anonymous.post("/api/v1/auth/token", data={"username": "admin\x00", "password": "x"})
        refused(response, 422, "username")
        raw = await anonymous.post(
            "/api/v1/auth/token",
            content=b"username=admin%00&password=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        refused(raw, 422, "username")


async def test_open311_nul_in_a_code_is_refused(loop: Loop) -> None:
    refused(
        await loop.intake.post(f"{BASE}/requests.json", data=pothole(service_code="transport.\x00pothole")),
        422,
        "service_code",
    )
    refused(await loop.intake.get(f"{BASE}/requests.json?service_code=%00"), 422, "service_code")
    refused(await loop.intake.post(f"{BASE}/requests.json", data=form(service_code="x", lat=BIG)), 422, "lat")


async def test_open311_control_character_in_a_description_keeps_the_feed_valid_xml(loop: Loop) -> None:
    tag = uuid.uuid4().hex[:8]
    raw = httpx.QueryParams(pothole(description=f"坑{tag}")).__str__().replace(tag, f"{tag}%01%00%1F")
    posted = await loop.intake.post(
        f"{BASE}/requests.json", content=raw.encode(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert posted.status_code in {200, 201}, posted.text
    (answer,) = posted.json()
    request_id = answer["service_request_id"]
    (document,) = (await loop.intake.get(f"{BASE}/requests/{request_id}.json")).json()
    assert document["description"] == f"坑{tag}"
    feed = await loop.intake.get(f"{BASE}/requests.xml")
    assert feed.status_code == 200
    root = ET.fromstring(feed.content)  # raises on a character XML 1.0 forbids
    assert root.tag == "service_requests"
    one = ET.fromstring((await loop.intake.get(f"{BASE}/requests/{request_id}.xml")).content)
    assert one.findtext("request/description") == f"坑{tag}"
    listed = await loop.intake.get(f"{BASE}/requests.json")
    assert listed.status_code == 200


async def test_body_limit_covers_every_method(loop: Loop) -> None:
    big = b"x" * (20 * 1024 * 1024)
    for method in ("GET", "DELETE", "POST"):
        response = await loop.intake.request(method, "/api/v1/tickets", content=big)
        assert response.status_code == 413, (method, response.text)
        assert response.json()["error"] == "payload_too_large"
    forwarded = await loop.intake.request("GET", "/api/v1/routing/merges", content=big)
    assert forwarded.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/routing/%2e%2e/%2e%2e/metrics",
        "/api/v1/routing/%2E%2E/%2E%2E/docs",
        "/api/v1/routing/%252e%252e/%252e%252e/metrics",
        "/api/v1/deadlines/.%2e/.%2e/metrics",
        "/api/v1/callbacks/%2e/x",
    ],
)
async def test_dot_segments_never_reach_internal_pages(loop: Loop, path: str) -> None:
    refused(await loop.intake.get(path), 400, "path")


async def test_raw_dot_segments_are_refused(loop: Loop) -> None:
    """httpx removes raw dot segments itself, so the request is handed to the gateway as raw ASGI."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    path = "/api/v1/routing/../../metrics"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"intake")], "client": ("127.0.0.1", 50000), "server": ("intake", 80),
    }  # fmt: skip
    await loop.apps["intake"](scope, receive, send)
    assert sent[0]["status"] == 400
    body = orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"] == "bad_path"
    assert body["fields"] == [{"field": "path", "problem": "dot segment"}]


async def test_database_data_errors_become_422(loop: Loop) -> None:
    """What the edge did not stop still is no 500: the kernel's handler (http_errors.py), real PostgreSQL."""
    pool = loop.runtime("intake").pool
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/nul")
    async def nul() -> Any:
        return await pool.fetchval("SELECT $1::text", "a\x00b")

    @app.get("/int")
    async def int64() -> Any:
        return await pool.fetchval("SELECT $1::bigint", 2**63)

    @app.get("/range")
    async def out_of_range() -> Any:
        return await pool.fetchval("SELECT 2147483647::int + 1")

    @app.get("/date")
    async def date() -> Any:
        return await pool.fetchval("SELECT '294276-12-31'::timestamptz + interval '10 years'")

    @app.get("/text")
    async def text() -> Any:
        return await pool.fetchval("SELECT 'abc'::int")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/nul", "/int", "/range", "/date", "/text"):
            response = await client.get(path)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["error"] == "validation_failed"
    assert issubclass(asyncpg.exceptions.CharacterNotInRepertoireError, asyncpg.exceptions.DataError)
