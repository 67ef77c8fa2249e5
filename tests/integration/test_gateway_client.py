"""A client generated from the gateway's /openapi.json (openapi-python-client, a maintained generator)
calls routes the gateway forwards to router, sla and feedback; one request has one id across the
gateway and the service behind it."""

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from cityloop.intake.app import create_app as intake_app
from tests.integration.conftest import Loop

PACKAGE = "cityloop_gateway_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """Generate the client from the document the gateway serves, then import it."""
    work = tmp_path_factory.mktemp("client")
    document = work / "openapi.json"
    document.write_text(json.dumps(intake_app().openapi()), encoding="utf-8")
    config = work / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    arguments = ["generate", "--path", str(document), "--output-path", str(work / PACKAGE), "--config", str(config)]
    subprocess.run(
        [str(generator), *arguments, "--meta", "none"],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


async def _client(loop: Loop, package: ModuleType, username: str, **headers: str) -> Any:
    token = await loop.token(username)
    client = package.AuthenticatedClient(base_url="http://intake", token=token)
    client.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=loop.apps["intake"]),
            base_url="http://intake",
            headers={"Authorization": f"Bearer {token}", **headers},
        )
    )
    return client


async def test_a_generated_client_calls_forwarded_routes_through_the_gateway(loop: Loop, generated: ModuleType) -> None:
    master_data = importlib.import_module(f"{PACKAGE}.api.master_data")
    client = await _client(loop, generated, "dispatcher")

    # router: a page of departments, then the next page by its cursor (keyset pages, libs/common paging.py)
    departments = importlib.import_module(f"{master_data.__name__}.departments_list")
    first = await departments.asyncio_detailed(client=client, limit=3)
    assert first.status_code == 200, first.content
    page = first.parsed
    assert len(page.items) == 3
    assert isinstance(page.next_cursor, str)
    second = (await departments.asyncio_detailed(client=client, limit=3, cursor=page.next_cursor)).parsed
    codes = [d.additional_properties["code"] for d in [*page.items, *second.items]]
    assert codes == sorted(codes)
    assert len(set(codes)) == 6

    # router: one department by code, as the generated model
    one = importlib.import_module(f"{master_data.__name__}.departments_get")
    got = await one.asyncio_detailed(code=codes[0], client=client)
    assert got.status_code == 200
    assert got.parsed.additional_properties["code"] == codes[0]

    # sla and feedback behind the same gateway
    extensions = importlib.import_module(f"{PACKAGE}.api.deadlines.list_extension_requests")
    listed = await extensions.asyncio_detailed(client=client, limit=5)
    assert listed.status_code == 200, listed.content
    due = importlib.import_module(f"{PACKAGE}.api.callbacks.list_due_callbacks")
    assert (await due.asyncio_detailed(client=client, limit=5)).status_code == 200


async def test_a_refusal_behind_the_gateway_is_the_error_body_under_the_callers_request_id(
    loop: Loop, generated: ModuleType
) -> None:
    client = await _client(loop, generated, "dispatcher", **{"X-Request-ID": "trace-gw-7"})
    one = importlib.import_module(f"{PACKAGE}.api.master_data.departments_get")
    missing = await one.asyncio_detailed(code="no-such-department", client=client)
    assert missing.status_code == 404
    error = missing.parsed  # the generated ErrorBody model
    assert error.error == "not_found"
    assert error.request_id == "trace-gw-7"  # router answered under the gateway's id
    assert missing.headers["X-Request-ID"] == "trace-gw-7"
    assert [f.field for f in error.fields] == ["code"]

    bad_cursor = importlib.import_module(f"{PACKAGE}.api.master_data.categories_list")
    refused = await bad_cursor.asyncio_detailed(client=client, cursor="bm90LWEtY3Vyc29y")
    assert refused.status_code == 422
    assert [f.field for f in refused.parsed.fields] == ["cursor"]
