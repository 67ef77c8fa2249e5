"""Who is calling: the gateway authenticates a request, then hands the identity to the service that owns
the endpoint in the ``X-CityLoop-Identity`` header, signed with the internal secret (HMAC-SHA256), so a
service behind the gateway trusts it without a second login and a forged header is refused.
"""

import base64
import hashlib
import hmac
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, ValidationError

HEADER = "X-CityLoop-Identity"


class Role(StrEnum):
    CALL_TAKER = "call_taker"
    DISPATCHER = "dispatcher"
    DEPARTMENT = "department"  # department staff, scoped to dept_code
    COMMAND_CENTRE = "command_centre"
    AUDITOR = "auditor"  # reads trails and scores, never edits
    ADMIN = "admin"
    SYSTEM = "system"  # service-to-service calls


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    dept_code: str | None = None


def _sign(payload: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def encode_identity(identity: Identity, secret: str) -> str:
    payload = orjson.dumps(identity.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return f"{base64.urlsafe_b64encode(payload).decode()}.{_sign(payload, secret)}"


def decode_identity(value: str, secret: str) -> Identity:
    """Raises ValueError when the header is malformed or its signature is wrong."""
    try:
        encoded, signature = value.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(encoded.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("malformed identity header") from exc
    if not hmac.compare_digest(_sign(payload, secret), signature):
        raise ValueError("identity header signature does not match")
    try:
        return Identity.model_validate(orjson.loads(payload))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise ValueError("identity header payload is not an identity") from exc


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, {"error": "unauthenticated", "message": message}, headers={"WWW-Authenticate": "Bearer"})


async def identity_from_request(request: Request) -> Identity:
    """FastAPI dependency for services behind the gateway; needs ``app.state.internal_secret``. (Every
    dependency here is ``async``: FastAPI runs a plain ``def`` one in a worker thread, per request.)"""
    value = request.headers.get(HEADER)
    if not value:
        raise _unauthenticated("no identity: call through the API gateway with credentials")
    try:
        return decode_identity(value, request.app.state.internal_secret)
    except ValueError as exc:
        raise _unauthenticated(str(exc)) from exc


CurrentIdentity = Annotated[Identity, Depends(identity_from_request)]


def roles_guard(authenticated: Callable[..., Any], *roles: Role) -> Any:
    """A dependency that takes the identity from ``authenticated`` and lets only ``roles`` (and admin) pass;
    the 403 names the roles allowed. The gateway guards with its own sign-in, services with the header."""
    allowed = {*roles, Role.ADMIN}

    async def check(identity: Annotated[Identity, Depends(authenticated)]) -> Identity:
        if identity.role not in allowed:
            raise HTTPException(
                403,
                {
                    "error": "forbidden",
                    "message": f"role {identity.role.value} may not do this; allowed: "
                    + ", ".join(sorted(r.value for r in allowed)),
                },
            )
        return identity

    return Depends(check)


def require_roles(*roles: Role) -> Any:
    """``Annotated[Identity, require_roles(Role.DISPATCHER)]`` for services behind the gateway."""
    return roles_guard(identity_from_request, *roles)
