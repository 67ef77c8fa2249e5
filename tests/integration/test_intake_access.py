"""Who sees what: department scope, masking, the access log, authentication, the gateway's identity."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import orjson
from fastapi import FastAPI, Request, Response

from cityloop.common.contract import types
from cityloop.common.identity import Identity, Role, require_roles
from cityloop.intake import gateway
from cityloop.intake.accounts import store as accounts_store
from cityloop.intake.accounts.credentials import hash_api_key, new_api_key
from cityloop.intake.accounts.key_cache import KeyCache
from cityloop.intake.demo import DEMO_API_KEY
from cityloop.intake.masking import mask_address
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.upstream import AiohttpUpstream
from tests.conftest import KAFKA, TOPIC_PREFIX
from tests.dept_system import DeptSystem
from tests.integration.conftest import Loop
from tests.integration.places import hp_address
from tests.integration.serving import served
from tests.integration.test_skeleton_loop import TICKET, wait_for_timeline

CITIZEN = {
    "name": "王小明",
    "phone": "13812345678",
    "id_number": "310101199001011234",
    "address": "浦东新区花木街道锦绣路1001弄7号601室",
    "email": "xiaoming@example.cn",
}
SECRETS = list(CITIZEN.values())


def hp_ticket() -> dict[str, Any]:
    """A ticket router sends to hp-sanitation (a place of its own: never merged), with full personal data."""
    return {
        **TICKET,
        "citizen": CITIZEN,
        "location": {"address": hp_address()},
        "description": f"垃圾未清运 {uuid.uuid4().hex[:8]}",
    }


def assert_no_personal_data(response: httpx.Response) -> None:
    assert response.status_code < 400, response.text
    for secret in SECRETS:
        assert secret not in response.text, (secret, response.request.url)


async def test_department_sees_only_its_own_tickets_now_or_before(loop: Loop) -> None:
    body = hp_ticket()
    ticket_id = (await loop.intake.post("/api/v1/tickets", json=body)).json()["id"]
    await wait_for_timeline(loop.intake, ticket_id, types.TICKET_DISPATCHED)
    async with await loop.signed_in("hp-sanitation") as hp, await loop.signed_in("pd-sanitation") as pd:
        # The department holding it reads it in full (and the read is logged).
        mine = await hp.get(f"/api/v1/tickets/{ticket_id}")
        assert mine.status_code == 200
        assert mine.json()["citizen"]["phone"] == CITIZEN["phone"]
        assert mine.json()["citizen"]["masked"] is False
        assert ticket_id in [
            t["id"] for t in (await hp.get("/api/v1/tickets", params={"q": body["description"]})).json()["items"]
        ]

        # Another department: not found, never the data, not in its lists.
        for path in (f"/api/v1/tickets/{ticket_id}", f"/api/v1/tickets/{ticket_id}/timeline"):
            theirs = await pd.get(path)
            assert theirs.status_code == 404
            body_404 = theirs.json()
            assert body_404.pop("request_id") == theirs.headers["X-Request-ID"]
            assert body_404 == {"error": "not_found", "message": f"no ticket {ticket_id}"}
        listed = await pd.get("/api/v1/tickets", params={"q": body["description"]})
        assert listed.json()["items"] == []
        assert body["description"] not in listed.text

        # hp rejects it (退单): it still sees the ticket it held before, but no longer the personal data.
        async with DeptSystem(KAFKA, TOPIC_PREFIX, "hp-sanitation") as dept:
            task = await dept.next_task(ticket_id)
            await dept.answer(task, "cityloop.dept.rejected", reason="不属于本单位职责", suggested_dept="hp-transport")
        await wait_for_timeline(loop.intake, ticket_id, types.TICKET_REJECTED)
        before = await hp.get(f"/api/v1/tickets/{ticket_id}")
        assert before.status_code == 200
        assert before.json()["citizen"]["masked"] is True
        assert_no_personal_data(before)
        assert before.json()["dept_code"] != "hp-sanitation"
        assert (await pd.get(f"/api/v1/tickets/{ticket_id}")).status_code == 404


async def test_personal_data_is_masked_in_every_response_for_roles_without_the_right(loop: Loop) -> None:
    body = hp_ticket()
    created = await loop.intake.post("/api/v1/tickets", json=body)  # the dispatcher creates it
    assert_no_personal_data(created)
    ticket_id = created.json()["id"]
    assert created.json()["citizen"] == {
        "name": "王**",
        "phone": "138****5678",
        "id_number": "310**************4",
        "address": mask_address(CITIZEN["address"]),
        "email": "x***@example.cn",
        "is_company": False,
        "company": None,
        "masked": True,
        "contact_ref": created.json()["citizen"]["contact_ref"],  # opaque: the same for every ticket of a phone
    }
    assert created.json()["citizen"]["contact_ref"].startswith("C-")
    await wait_for_timeline(loop.intake, ticket_id, types.TICKET_DISPATCHED)
    for username in ("dispatcher", "command", "auditor", "calltaker"):  # calltaker did not take this call
        async with await loop.signed_in(username) as client:
            assert_no_personal_data(await client.get(f"/api/v1/tickets/{ticket_id}"))
            assert_no_personal_data(await client.get(f"/api/v1/tickets/{ticket_id}/timeline"))
            assert_no_personal_data(await client.get("/api/v1/tickets", params={"q": body["description"]}))
    # Lists are masked even for those who may read the ticket in full.
    async with await loop.signed_in("admin") as admin, await loop.signed_in("hp-sanitation") as hp:
        for client in (admin, hp):
            assert_no_personal_data(await client.get("/api/v1/tickets", params={"q": body["description"]}))
            assert_no_personal_data(await client.get(f"/api/v1/tickets/{ticket_id}/timeline"))


async def test_every_full_read_is_recorded_and_auditors_can_query_it(loop: Loop) -> None:
    async with await loop.signed_in("calltaker") as calltaker:
        created = await calltaker.post("/api/v1/tickets", json=hp_ticket())
        ticket_id = created.json()["id"]
        assert created.json()["citizen"]["phone"] == CITIZEN["phone"]  # the call-taker who took the call
        read = await calltaker.get(f"/api/v1/tickets/{ticket_id}")
        assert read.json()["citizen"]["id_number"] == CITIZEN["id_number"]
    async with await loop.signed_in("auditor") as auditor:
        log = await auditor.get("/api/v1/access-log", params={"ticket_id": ticket_id})
        assert log.status_code == 200
        entries = log.json()["items"]
        assert [(e["subject"], e["role"], e["purpose"]) for e in entries] == [
            ("calltaker", "call_taker", "ticket.read"),
            ("calltaker", "call_taker", "ticket.create"),
        ]
        assert entries[0]["fields"] == ["name", "phone", "id_number", "address", "email"]
        assert_no_personal_data(log)
        first_page = await auditor.get("/api/v1/access-log", params={"ticket_id": ticket_id, "limit": 1})
        second = await auditor.get(
            "/api/v1/access-log",
            params={"ticket_id": ticket_id, "limit": 1, "cursor": first_page.json()["next_cursor"]},
        )
        assert [e["purpose"] for e in second.json()["items"]] == ["ticket.create"]
    forbidden = await loop.intake.get("/api/v1/access-log")  # a dispatcher
    assert forbidden.status_code == 403


async def test_credentials_tokens_and_api_keys(loop: Loop) -> None:
    async with loop.anonymous() as anonymous:
        assert (await anonymous.get("/api/v1/tickets")).status_code == 401
        bad = await anonymous.get("/api/v1/tickets", headers={"Authorization": "Bearer not.a.token"})
        assert bad.status_code == 401
        assert bad.json()["error"] == "unauthenticated"
        wrong = await anonymous.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "guess"})
        assert wrong.status_code == 401
        unknown_key = await anonymous.get("/api/v1/tickets", headers={"X-API-Key": "nope"})
        assert unknown_key.status_code == 401
        system = await anonymous.get("/api/v1/auth/me", headers={"X-API-Key": DEMO_API_KEY})
        assert system.json() == {"subject": "hotline-cti", "role": "call_taker", "dept_code": None}
    async with await loop.signed_in("pd-sanitation") as pd:
        assert (await pd.get("/api/v1/auth/me")).json() == {
            "subject": "pd-sanitation",
            "role": "department",
            "dept_code": "pd-sanitation",
        }


async def test_a_revoked_api_key_stops_working_once_its_cached_seconds_pass(loop: Loop) -> None:
    """accounts/key_cache.py: a key found is not looked up again for api_key_cache_seconds, so a revocation in
    the database is seen within that time (here a clock the test moves)."""
    clock = [0.0]
    state = loop.apps["intake"].state
    ttl = state.settings.api_key_cache_seconds
    state.key_cache = KeyCache(ttl, timer=lambda: clock[0])
    try:
        await _revoke_while_cached(loop, clock, ttl)
    finally:
        state.key_cache = None  # the next test's first key lookup makes the app's own again


async def _revoke_while_cached(loop: Loop, clock: list[float], ttl: float) -> None:
    key = new_api_key()
    async with loop.runtime("intake").pool.acquire() as conn:
        await accounts_store.insert_api_key(conn, key_hash=hash_api_key(key), username="hotline-cti", label="test")
    async with loop.client({"X-API-Key": key}) as system:
        assert (await system.get("/api/v1/auth/me")).json()["subject"] == "hotline-cti"
        async with loop.runtime("intake").pool.acquire() as conn:
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1", hash_api_key(key))
        clock[0] += ttl / 2
        assert (await system.get("/api/v1/auth/me")).status_code == 200  # still believed
        clock[0] += ttl
        refused = await system.get("/api/v1/auth/me")
        assert refused.status_code == 401
        assert refused.json()["message"] == "unknown or revoked API key"


async def test_login_is_rate_limited_per_client(loop: Loop) -> None:
    """Failed logins per address, across usernames (per-username backoff: tests/integration/test_rate_limits.py)."""
    limit = int(loop.apps["intake"].state.settings.login_rate_limit.split("/")[0])
    async with loop.client({}, client_address="127.0.0.77") as guesser:
        answers = [
            (await guesser.post("/api/v1/auth/token", data={"username": f"guess{i}", "password": "x"})).status_code
            for i in range(limit + 1)
        ]
    assert answers == [401] * limit + [429]
    async with loop.client({}, client_address="127.0.0.78") as someone_else:
        ok = await someone_else.post("/api/v1/auth/token", data={"username": "admin", "password": "demo-admin"})
        assert ok.status_code == 200


async def test_request_bodies_over_the_limit_are_refused(loop: Loop) -> None:
    limit = loop.apps["intake"].state.settings.max_body_bytes
    huge = await loop.intake.post(
        "/api/v1/tickets", content=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.json()["error"] == "payload_too_large"
    open311 = await loop.intake.post(
        "/open311/v2/requests.xml",
        content=b"a" * (limit + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert open311.status_code == 413
    assert b"<errors><error><code>413</code>" in open311.content


def _upstream() -> FastAPI:
    """A service behind the gateway, trusting only the signed identity header (libs/common identity.py); it
    answers what reached it: path, raw query, body, the headers it was sent."""
    app = FastAPI()
    app.state.internal_secret = IntakeSettings().internal_secret

    @app.api_route("/api/v1/{path:path}", methods=["GET", "POST"])
    async def echo(
        identity: Annotated[Identity, require_roles(Role.DISPATCHER)], path: str, request: Request
    ) -> Response:
        if path == "routing/moved":
            return Response(status_code=307, headers={"Location": "/api/v1/routing/elsewhere"})
        seen = {
            "path": path,
            "identity": identity.model_dump(mode="json"),
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "headers": sorted(request.headers.keys()),
            "as_sent": [request.headers.get("user-agent"), request.headers.get("accept-encoding")],
        }
        return Response(
            orjson.dumps(seen),
            status_code=201 if request.method == "POST" else 200,
            media_type="application/json",
            headers={"X-Upstream": "router"},
        )

    return app


@contextlib.asynccontextmanager
async def _gateway(loop: Loop, router_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's forwarding in front of ``router_url`` over real HTTP, with the production client."""
    settings = IntakeSettings(router_url=router_url, sla_url="http://127.0.0.1:9", feedback_url="http://feedback")
    gateway_app = FastAPI()
    gateway_app.state.settings = settings
    gateway_app.state.runtime = loop.runtime("intake")
    upstream = AiohttpUpstream(timeout_seconds=5.0)
    gateway_app.include_router(gateway.gateway_router(settings, upstream))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app), base_url="http://gw") as client:
            yield client
    finally:
        await upstream.aclose()


async def test_gateway_forwards_a_signed_identity_and_never_the_callers_credentials(loop: Loop) -> None:
    upstream = _upstream()
    forged = "e30.0000"  # a client trying to speak for itself
    async with served(upstream) as router_url, _gateway(loop, router_url) as client:
        token = await loop.token("dispatcher")
        answer = await client.get(
            "/api/v1/routing/pending", headers={"Authorization": f"Bearer {token}", "X-CityLoop-Identity": forged}
        )
        assert answer.status_code == 200, answer.text
        seen = answer.json()
        assert (seen["path"], seen["identity"]) == (
            "routing/pending",
            {"subject": "dispatcher", "role": "dispatcher", "dept_code": None},
        )
        assert "authorization" not in seen["headers"]
        assert "x-cityloop-identity" in seen["headers"]
        # The service refuses roles it does not allow, on the identity the gateway vouched for.
        as_auditor = await client.get(
            "/api/v1/routing/pending", headers={"Authorization": f"Bearer {await loop.token('auditor')}"}
        )
        assert as_auditor.status_code == 403
        assert (await client.get("/api/v1/routing/pending")).status_code == 401
        # Straight to the service with a forged header: refused.
        async with httpx.AsyncClient(base_url=router_url) as direct:
            refused = await direct.get("/api/v1/routing/pending", headers={"X-CityLoop-Identity": forged})
            assert refused.status_code == 401


async def test_gateway_passes_requests_and_answers_through_as_they_are(loop: Loop) -> None:
    async with served(_upstream()) as router_url, _gateway(loop, router_url) as client:
        signed_in = {"Authorization": f"Bearer {await loop.token('dispatcher')}"}
        # The query string byte for byte: repeated keys, percent-encoded Chinese, an encoded '&'.
        query = "district=%E6%B5%A6%E4%B8%9C&d=1&d=2&note=a%26b"
        read = await client.get(f"/api/v1/routing/pending?{query}", headers=signed_in)
        assert read.status_code == 200
        assert read.json()["query"] == query
        assert read.headers["x-upstream"] == "router"
        # A body as sent, the upstream's own status; no User-Agent or API key of the caller's added or kept.
        body = '{"note": "受理 ok"}'
        posted = await client.post(
            "/api/v1/routing/pending",
            content=body.encode(),
            headers={
                **signed_in,
                "Content-Type": "application/json",
                "X-API-Key": "not-forwarded",
                "User-Agent": "hotline-desk/2.1",
                "Accept-Encoding": "identity",
            },
        )
        assert posted.status_code == 201
        assert posted.json()["body"] == body
        assert "x-api-key" not in posted.json()["headers"]
        assert posted.json()["as_sent"] == ["hotline-desk/2.1", "identity"]  # the caller's, not the client's
        # A redirect is the caller's to follow, not the gateway's.
        moved = await client.get("/api/v1/routing/moved", headers=signed_in)
        assert (moved.status_code, moved.headers["location"]) == (307, "/api/v1/routing/elsewhere")
        # A service nobody answers for (sla is at a closed port here): a 503 in the documented error format.
        down = await client.get("/api/v1/deadlines/T1", headers=signed_in)
        assert down.status_code == 503
        assert down.json()["error"] == "upstream_unavailable"
        assert "sla" in down.json()["message"]


async def test_openapi_has_stable_operation_ids_and_examples(loop: Loop) -> None:
    async with loop.anonymous() as anonymous:
        document = (await anonymous.get("/openapi.json")).json()
        assert (await anonymous.get("/docs")).status_code == 200
    operation_ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "create_ticket",
        "list_tickets",
        "get_ticket",
        "get_ticket_timeline",
        "list_access_log",
        "issue_token",
        "who_am_i",
        "open311_discovery",
        "open311_list_services",
        "open311_get_service_definition",
        "open311_create_request",
        "open311_list_requests",
        "open311_get_request",
        "open311_get_token",
    } <= operation_ids
    assert document["components"]["schemas"]["TicketCreate"]["examples"][0]["channel"] == "hotline"
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()
