"""Callbacks behind the gateway: only the signed identity of an allowed role gets through."""

import httpx

from cityloop.common.identity import HEADER, Identity, Role, encode_identity
from tests.integration.conftest import SECRET, Loop


def as_role(loop: Loop, role: Role, dept_code: str | None = None) -> httpx.AsyncClient:
    header = encode_identity(Identity(subject=f"someone-{role.value}", role=role, dept_code=dept_code), SECRET)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=loop.apps["feedback"]), base_url="http://feedback", headers={HEADER: header}
    )


async def test_callbacks_need_a_signed_identity_of_an_allowed_role(loop: Loop) -> None:
    outcome = {"solved": True, "satisfaction": "satisfied", "recorded_by": "x"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=loop.apps["feedback"]), base_url="http://f") as c:
        assert (await c.get("/api/v1/callbacks/due")).status_code == 401
        forged = encode_identity(Identity(subject="x", role=Role.ADMIN), "not-the-secret")
        assert (await c.get("/api/v1/callbacks/due", headers={HEADER: forged})).status_code == 401
    async with as_role(loop, Role.AUDITOR) as auditor:
        assert (await auditor.get("/api/v1/callbacks/due")).status_code == 200
        refused = await auditor.post("/api/v1/callbacks/T-none/outcome", json=outcome)
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
    async with as_role(loop, Role.DEPARTMENT, "pd-sanitation") as department:
        assert (await department.get("/api/v1/callbacks/due")).status_code == 403
    async with as_role(loop, Role.CALL_TAKER) as call_taker:
        missing = await call_taker.post("/api/v1/callbacks/T-none/outcome", json=outcome)
        assert missing.status_code == 404
