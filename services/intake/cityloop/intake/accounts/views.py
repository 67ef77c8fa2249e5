"""/api/v1/auth: exchange a username and password for an access token; who am I."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm

from cityloop.common.deps import pool_of
from cityloop.common.identity import Identity, Role
from cityloop.intake.accounts import store
from cityloop.intake.accounts.authn import Authenticated, settings_of
from cityloop.intake.accounts.credentials import hash_password, issue_token, verify_password
from cityloop.intake.models import Me, TokenOut
from cityloop.intake.rate_limits import RateLimit

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

# Verified when the account does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/token",
    operation_id="issue_token",
    response_model=TokenOut,
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many attempts from this client"},
    },
)
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """OAuth2 password flow: form fields ``username`` and ``password``; answers a bearer token."""
    limit: RateLimit = request.app.state.login_limit
    if not await limit.allow(f"{client_address(request)}|{form.username}"):
        raise HTTPException(
            429,
            {"error": "rate_limited", "message": f"too many login attempts; limit {limit.spec}"},
            headers={"Retry-After": str(limit.retry_after_seconds)},
        )
    async with pool_of(request).acquire() as conn:
        row = await store.account(conn, form.username)
    stored = row["password_hash"] if row is not None and row["password_hash"] else _DUMMY_HASH
    ok = await asyncio.to_thread(verify_password, form.password, stored)  # argon2 takes ~0.2 s of CPU
    if row is None or not row["password_hash"] or not ok:
        raise HTTPException(
            401,
            {"error": "unauthenticated", "message": "wrong username or password"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings = settings_of(request)
    identity = Identity(subject=row["username"], role=Role(row["role"]), dept_code=row["dept_code"])
    return TokenOut(
        access_token=issue_token(identity, secret=settings.jwt_secret, ttl_seconds=settings.token_ttl_seconds),
        expires_in=settings.token_ttl_seconds,
    )


@router.get("/me", operation_id="who_am_i", response_model=Me)
async def me(identity: Authenticated) -> Me:
    return Me(subject=identity.subject, role=identity.role, dept_code=identity.dept_code)
