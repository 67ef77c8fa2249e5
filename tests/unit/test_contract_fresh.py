"""The generated contract files are checked in fresh, and the gateway serves exactly the published document
(scripts/contract: one entry point, ``python -m scripts.contract``)."""

import json

import httpx
from scripts.contract import ROOT, generate, stale
from scripts.contract.openapi import DOCUMENT

from cityloop.intake.app import create_app as intake_app


def test_every_generated_contract_file_is_fresh() -> None:
    files = generate()
    assert DOCUMENT in files
    assert stale(files) == [], "stale contract files: run python -m scripts.contract"


async def test_the_gateway_serves_the_published_openapi_document() -> None:
    published = json.loads((ROOT / DOCUMENT).read_text(encoding="utf-8"))
    transport = httpx.ASGITransport(app=intake_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        served = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert served == published
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
