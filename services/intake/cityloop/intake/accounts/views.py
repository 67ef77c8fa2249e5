"""/api/v1/auth: exchange a username and password for an access token; who am I."""

import asyncio
import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm

from cityloop.common.deps import pool_of
from cityloop.common.identity import Identity, Role
from cityloop.intake.accounts import store
from cityloop.intake.accounts.authn import Authenticated, settings_of
from cityloop.intake.accounts.credentials import hash_password, issue_token, verify_password
from cityloop.intake.accounts.throttle import LoginThrottle
from cityloop.intake.models import Me, TokenOut
from cityloop.intake.rate_limits import RateLimit, client_address

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

# Verified when the account does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def _too_many(message: str, retry_after: int) -> HTTPException:
    return HTTPException(
        429, {"error": "rate_limited", "message": message}, headers={"Retry-After": str(max(1, retry_after))}
    )


@router.post(
    "/token",
    operation_id="issue_token",
    response_model=TokenOut,
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many failed attempts for this username, or from this address"},
    },
)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """OAuth2 password flow: form fields ``username`` and ``password``; answers a bearer token."""
    address = client_address(request)
    # Failures only: per address across usernames, and per username with backoff (accounts/throttle.py).
    per_address: RateLimit = request.app.state.login_limit
    throttle: LoginThrottle = request.app.state.login_throttle
    if not await per_address.test(address):
        raise _too_many(
            f"too many failed logins from this address; limit {per_address.spec}", per_address.retry_after_seconds
        )
    wait = throttle.wait(form.username, address, time.monotonic())
    if wait > 0:
        raise _too_many(f"too many failed logins for {form.username!r}; retry in {math.ceil(wait)} s", math.ceil(wait))
    async with pool_of(request).acquire() as conn:
        row = await store.account(conn, form.username)
    stored = row["password_hash"] if row is not None and row["password_hash"] else _DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, form.password, stored)  # argon2 takes ~0.2 s of CPU
    if row is None or not row["password_hash"] or not ok:
        await per_address.allow(address)
        throttle.failed(form.username, time.monotonic())
        raise HTTPException(
            401,
            {"error": "unauthenticated", "message": "wrong username or password"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(form.username, address)
    settings = settings_of(request)
    identity = Identity(subject=row["username"], role=Role(row["role"]), dept_code=row["dept_code"])
    return TokenOut(
        access_token=issue_token(identity, secret=settings.jwt_secret, ttl_seconds=settings.token_ttl_seconds),
        expires_in=settings.token_ttl_seconds,
    )


@router.get("/me", operation_id="who_am_i", response_model=Me)
async def me(identity: Authenticated) -> Me:
    return Me(subject=identity.subject, role=identity.role, dept_code=identity.dept_code)
