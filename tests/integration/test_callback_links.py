"""The citizen's one-time callback link, through the gateway without an account: it works once, then
refuses; it refuses once expired; only the token's hash is stored; only its two paths are public, and they
are rate-limited. Plus a headless Chromium screenshot of the form at a phone's size."""

import asyncio
import hashlib
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cityloop.intake import gateway
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.upstream import HttpxUpstream
from tests.integration.callback_support import department, new_resolved_ticket, operator
from tests.integration.conftest import Loop
from tests.integration.test_skeleton_loop import wait_for_timeline

BASICALLY = {"solved": True, "satisfaction": "basically_satisfied", "note": "还行"}
NOT_SOLVED = {"solved": False, "satisfaction": "unsatisfied", "reason": "other"}


@pytest.fixture
async def public(loop: Loop) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's public door in front of the real feedback service, as an anonymous phone sees it."""
    async with gateway_client(loop, rate_limit="1000/minute") as client:
        yield client


def gateway_client(loop: Loop, *, rate_limit: str) -> httpx.AsyncClient:
    settings = IntakeSettings(feedback_url="http://feedback", callback_link_rate_limit=rate_limit)
    to_feedback = HttpxUpstream(httpx.ASGITransport(app=loop.apps["feedback"]), timeout_seconds=10.0)
    app = FastAPI()
    app.state.settings = settings
    app.state.runtime = loop.runtime("intake")
    app.include_router(gateway.public_router(settings, to_feedback))
    app.include_router(gateway.gateway_router(settings, to_feedback))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.7", 40000)), base_url="http://gw")


async def issue_link(loop: Loop) -> tuple[str, str, dict[str, Any]]:
    """A resolved ticket whose callback has a one-time link: (ticket id, token, the link as issued)."""
    async with await department(loop) as dept:
        ticket_id, _ = await new_resolved_ticket(loop, dept)
    async with operator(loop, "op-link") as op:
        issued = await op.post(f"/api/v1/callbacks/{ticket_id}/link")
    assert issued.status_code == 201, issued.text
    link: dict[str, Any] = issued.json()
    token = link["url"].rsplit("/", 1)[-1]
    assert link["api_url"].endswith(f"/api/v1/callback-links/{token}")
    return ticket_id, token, link


async def test_the_link_works_once_then_refuses(loop: Loop, public: httpx.AsyncClient) -> None:
    ticket_id, token, _ = await issue_link(loop)
    pool = loop.runtime("feedback").pool
    stored = await pool.fetch(
        "SELECT * FROM callback_links WHERE token_hash = $1", hashlib.sha256(token.encode()).hexdigest()
    )
    assert len(stored) == 1
    assert token not in {str(v) for v in stored[0].values()}  # only the hash is kept

    state = await public.get(f"/api/v1/callback-links/{token}")
    assert state.status_code == 200, state.text
    assert state.json()["state"] == "open"
    answered = await public.post(
        f"/api/v1/callback-links/{token}", json={"solved": True, "satisfaction": "basically_satisfied", "note": "还行"}
    )
    assert answered.status_code == 200, answered.text
    assert (answered.json()["ticket_id"], answered.json()["verdict"]) == (ticket_id, "close")

    again = await public.post(
        f"/api/v1/callback-links/{token}", json={"solved": False, "satisfaction": "unsatisfied", "reason": "other"}
    )
    assert again.status_code == 410
    assert again.json()["error"] == "link_used"
    assert (await public.get(f"/api/v1/callback-links/{token}")).json()["state"] == "used"
    page = await public.get(f"/callback/{token}")
    assert page.status_code == 410
    assert "已经使用" in page.text

    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.closed")
    recorded = next(e for e in trail if e["type"] == "cityloop.callback.recorded")
    assert recorded["actor"] == "citizen"
    assert (recorded["detail"]["via"], recorded["detail"]["satisfaction"]) == ("link", "basically_satisfied")
    assert any(e["type"] == "cityloop.callback.link_issued" for e in trail)


async def test_the_form_answers_once_and_a_not_solved_answer_reopens(loop: Loop, public: httpx.AsyncClient) -> None:
    ticket_id, token, _ = await issue_link(loop)
    form = await public.get(f"/callback/{token}")
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert form.headers["referrer-policy"] == "no-referrer"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in form.text
    assert "您反映的问题解决了吗" in form.text
    assert "<script" not in form.text

    incomplete = await public.post(f"/callback/{token}", data={"solved": "no", "satisfaction": "unsatisfied"})
    assert incomplete.status_code == 422
    assert "主要原因" in incomplete.text
    assert 'value="no" checked' in incomplete.text  # what was chosen stays chosen

    sent = await public.post(
        f"/callback/{token}",
        data={"solved": "no", "satisfaction": "unsatisfied", "reason": "not_handled", "note": "没人来"},
    )
    assert sent.status_code == 200
    assert "重新办理" in sent.text
    assert (
        await public.post(f"/callback/{token}", data={"solved": "yes", "satisfaction": "satisfied"})
    ).status_code == 410
    trail = await wait_for_timeline(loop.intake, ticket_id, "cityloop.ticket.reopened")
    recorded = next(e for e in trail if e["type"] == "cityloop.callback.recorded")
    assert (recorded["actor"], recorded["detail"]["verdict"], recorded["detail"]["reason"]) == (
        "citizen",
        "rehandle",
        "not_handled",
    )


async def test_an_expired_link_refuses(loop: Loop, public: httpx.AsyncClient) -> None:
    ticket_id, token, _ = await issue_link(loop)
    pool = loop.runtime("feedback").pool
    # The link's validity runs out (CITYLOOP_FEEDBACK_CALLBACK_LINK_HOURS): its expiry is now in the past.
    await pool.execute(
        "UPDATE callback_links SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hashlib.sha256(token.encode()).hexdigest(),
    )
    refused = await public.post(f"/api/v1/callback-links/{token}", json={"solved": True, "satisfaction": "satisfied"})
    assert refused.status_code == 410
    assert refused.json()["error"] == "link_expired"
    page = await public.get(f"/callback/{token}")
    assert page.status_code == 410
    assert "已失效" in page.text
    # Nothing was recorded: the operators still have the callback to make.
    async with operator(loop, "op-after") as op:
        due = (await op.get(f"/api/v1/callbacks/{ticket_id}")).json()
    assert [c["status"] for c in due] == ["due"]


async def test_only_the_link_paths_are_public_and_they_are_rate_limited(loop: Loop) -> None:
    async with gateway_client(loop, rate_limit="3/minute") as client:
        unknown = "A" * 43
        assert (await client.get(f"/api/v1/callback-links/{unknown}")).status_code == 404
        assert (await client.get("/callback/not a token!")).status_code == 404
        # Everything else of feedback still needs a signed-in caller.
        assert (await client.get("/api/v1/callbacks/due")).status_code == 401
        assert (await client.post("/api/v1/callbacks/T-x/link")).status_code == 401
        assert (await client.get(f"/callback/{unknown}")).status_code == 410
        assert (await client.get(f"/callback/{unknown}")).status_code == 410
        limited = await client.get(f"/callback/{unknown}")
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert "Retry-After" in limited.headers


def png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the pixel data): enough to tell a blank page from a form."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(png[at + 8 : at + 8 + length])
        at += 12 + length
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


async def test_the_form_renders_on_a_phone_in_headless_chromium(
    loop: Loop, public: httpx.AsyncClient, tmp_path: Path
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: `make browser` installs it (Debian's chromium and fonts-noto-cjk)")
    _, token, _ = await issue_link(loop)
    served = await public.get(f"/callback/{token}")
    assert served.status_code == 200
    page = tmp_path / "callback.html"
    page.write_text(served.text, encoding="utf-8")
    shot = tmp_path / "callback.png"
    process = await asyncio.create_subprocess_exec(
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=390,844",
        f"--screenshot={shot}",
        page.as_uri(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, output.decode(errors="replace")
    width, height, colours = png_size_and_colours(shot.read_bytes())
    assert (width, height) == (390, 844)
    assert colours > 50, "the screenshot is (nearly) blank"
    print(f"callback form screenshot: {shot}")
