"""Credentials, as plain functions: password hashes, API key hashes, and operators' access tokens.

Why these libraries: PyJWT is the JWT implementation FastAPI's own security docs use, small and actively
kept, and we only need HS256 between the gateway and its own clients; pwdlib (argon2id) is the maintained
successor that FastAPI moved to after passlib went unmaintained. API keys are 256-bit random values, so a
plain SHA-256 of the key is enough to store them (no slow hash needed: there is nothing to brute-force).
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pydantic import ValidationError

from cityloop.common.identity import Identity

ISSUER = "cityloop-intake"
AUDIENCE = "cityloop-api"
_ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()


class InvalidCredentials(Exception):
    """The token or key is malformed, expired, or not ours; the message says which (never the secret)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher.verify(password, password_hash)


def new_api_key(prefix: str = "clk") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(identity: Identity, *, secret: str, ttl_seconds: int, now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": identity.subject,
        "role": identity.role.value,
        "dept": identity.dept_code,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def read_token(token: str, *, secret: str) -> Identity:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidCredentials("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidCredentials(f"invalid token: {exc}") from exc
    try:
        return Identity(subject=claims["sub"], role=claims.get("role"), dept_code=claims.get("dept"))
    except ValidationError as exc:
        raise InvalidCredentials("token does not carry a valid identity") from exc
