"""Accounts and API keys."""

from collections.abc import Sequence

import asyncpg

from cityloop.common.db.pool import Conn

Record = asyncpg.Record


async def account_for_api_key(conn: Conn, key_hash: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT a.username, a.role, a.dept_code FROM api_keys k JOIN accounts a ON a.username = k.username"
        " WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND a.active",
        key_hash,
    )


async def account(conn: Conn, username: str) -> Record | None:
    return await conn.fetchrow(
        "SELECT username, role, dept_code, password_hash FROM accounts WHERE username = $1 AND active", username
    )


async def existing_accounts(conn: Conn, usernames: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT username FROM accounts WHERE username = ANY($1::text[])", list(usernames))
    return {str(r["username"]) for r in rows}


async def insert_account(
    conn: Conn, *, username: str, display_name: str, role: str, dept_code: str | None, password_hash: str | None
) -> None:
    await conn.execute(
        "INSERT INTO accounts (username, display_name, role, dept_code, password_hash)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
        username,
        display_name,
        role,
        dept_code,
        password_hash,
    )


async def insert_api_key(conn: Conn, *, key_hash: str, username: str, label: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_hash, username, label) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING",
        key_hash,
        username,
        label,
    )
