"""Authenticating a request at the gateway: a bearer token (people) or an API key (systems).

``Authenticated`` yields the caller's Identity; ``allow(...)`` also checks the role. Both answer with the
common JSON error shape (401 unauthenticated, 403 forbidden).
"""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cityloop.common.deps import pool_of
from cityloop.common.identity import Identity, Role, roles_guard
from cityloop.intake.accounts import store
from cityloop.intake.accounts.credentials import InvalidCredentials, hash_api_key, read_token
from cityloop.intake.accounts.key_cache import KeyCache
from cityloop.intake.rate_limits import RateLimit, client_address
from cityloop.intake.settings import IntakeSettings

# auto_error=False: we answer missing credentials ourselves, in the project's error shape.
_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a system account")


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, {"error": "unauthenticated", "message": message}, headers={"WWW-Authenticate": "Bearer"})


def settings_of(request: Request) -> IntakeSettings:
    settings: IntakeSettings = request.app.state.settings
    return settings


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Identity:
    """The caller's identity, within the per-principal limit; failed attempts count against the address."""
    limit = _api_limit(request)
    try:
        identity = await _identify(request, bearer, api_key)
    except HTTPException:
        if not await limit.allow(f"ip:{client_address(request)}"):
            raise _rate_limited(limit) from None
        raise
    if not await limit.allow(f"principal:{identity.subject}"):
        raise _rate_limited(limit)
    return identity


def _api_limit(request: Request) -> RateLimit:
    """One per app, made on first use (a gateway assembled from routers alone has one too)."""
    limit: RateLimit | None = getattr(request.app.state, "api_limit", None)
    if limit is None:
        limit = request.app.state.api_limit = RateLimit("api", settings_of(request).api_rate_limit)
    return limit


def _key_cache(request: Request) -> KeyCache:
    """One per app, made on first use, as the rate limit is."""
    keys: KeyCache | None = getattr(request.app.state, "key_cache", None)
    if keys is None:
        keys = request.app.state.key_cache = KeyCache(settings_of(request).api_key_cache_seconds)
    return keys


def _rate_limited(limit: RateLimit) -> HTTPException:
    return HTTPException(
        429,
        {"error": "rate_limited", "message": f"too many requests; limit {limit.spec}"},
        headers={"Retry-After": str(limit.retry_after_seconds)},
    )


async def _identify(request: Request, bearer: HTTPAuthorizationCredentials | None, api_key: str | None) -> Identity:
    if bearer is not None:
        try:
            return read_token(bearer.credentials, secret=settings_of(request).jwt_secret)
        except InvalidCredentials as exc:
            raise _unauthenticated(str(exc)) from exc
    if api_key:
        key_hash = hash_api_key(api_key)
        keys = _key_cache(request)
        if (known := keys.get(key_hash)) is not None:
            return known
        async with pool_of(request).acquire() as conn:
            row = await store.account_for_api_key(conn, key_hash)
        if row is None:
            raise _unauthenticated("unknown or revoked API key")
        identity = Identity(subject=row["username"], role=Role(row["role"]), dept_code=row["dept_code"])
        keys.put(key_hash, identity)
        return identity
    raise _unauthenticated("send Authorization: Bearer <token> (POST /api/v1/auth/token) or X-API-Key")


Authenticated = Annotated[Identity, Depends(authenticate)]


def allow(*roles: Role) -> Any:
    """``Annotated[Identity, allow(Role.X)]``: only ``roles`` (and admin) pass; the 403 names who may."""
    return roles_guard(authenticate, *roles)
