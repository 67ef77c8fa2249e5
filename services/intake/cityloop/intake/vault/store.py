"""The vault's SQL: one row per ticket, sealed; masked forms and keyed hashes beside it in the clear."""

from typing import Any

import asyncpg

from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn
from cityloop.common.personal.sealing import Sealed

Record = asyncpg.Record


def insert_into(
    q: Composed,
    name: str,
    ticket_id: str,
    sealed: Sealed,
    *,
    phone_index: bytes | None,
    contact_ref: str,
    masked: dict[str, Any],
    gate: str,
) -> None:
    """A ticket's vault row as a CTE of ``q`` (db/composed.py) returning masked and contact_ref."""
    q.cte(
        name,
        "INSERT INTO ticket_vault (ticket_id, key_id, wrapped_key, sealed, phone_index, contact_ref, masked)"
        f" SELECT {q.arg(ticket_id, 'text')}, {q.arg(sealed.key_id, 'text')}, {q.arg(sealed.wrapped_key, 'bytea')},"
        f" {q.arg(sealed.sealed, 'bytea')}, {q.arg(phone_index, 'bytea')}, {q.arg(contact_ref, 'text')},"
        f" {q.arg(masked, 'jsonb')} WHERE {gate} RETURNING masked, contact_ref",
    )


async def sealed_of(conn: Conn, ticket_id: str) -> Sealed | None:
    row = await conn.fetchrow(
        "SELECT key_id, wrapped_key, sealed FROM ticket_vault WHERE ticket_id = $1 AND erased_at IS NULL", ticket_id
    )
    return None if row is None else Sealed(row["key_id"], bytes(row["wrapped_key"]), bytes(row["sealed"]))


async def sealed_for_update(conn: Conn, ticket_id: str) -> Sealed | None:
    """The row's seal, locked until the transaction ends (None if there is none or it was erased)."""
    row = await conn.fetchrow(
        "SELECT key_id, wrapped_key, sealed FROM ticket_vault WHERE ticket_id = $1 AND erased_at IS NULL FOR UPDATE",
        ticket_id,
    )
    return None if row is None else Sealed(row["key_id"], bytes(row["wrapped_key"]), bytes(row["sealed"]))


async def replace_sealed(conn: Conn, ticket_id: str, sealed: Sealed) -> None:
    await conn.execute(
        "UPDATE ticket_vault SET key_id = $2, wrapped_key = $3, sealed = $4, sealed_at = now()"
        " WHERE ticket_id = $1 AND erased_at IS NULL",
        ticket_id,
        sealed.key_id,
        sealed.wrapped_key,
        sealed.sealed,
    )


async def reseal(conn: Conn, ticket_id: str, old_key_id: str, sealed: Sealed) -> bool:
    """Replace the row's seal if it is still under ``old_key_id`` (a concurrent erasure or rotation wins)."""
    done = await conn.fetchval(
        "UPDATE ticket_vault SET key_id = $3, wrapped_key = $4, sealed = $5, sealed_at = now()"
        " WHERE ticket_id = $1 AND key_id = $2 AND erased_at IS NULL RETURNING 1",
        ticket_id,
        old_key_id,
        sealed.key_id,
        sealed.wrapped_key,
        sealed.sealed,
    )
    return done is not None


async def not_under(conn: Conn, key_id: str, *, limit: int) -> list[Record]:
    """Up to ``limit`` sealed rows under another key than ``key_id``, locked (others skip them)."""
    return await conn.fetch(
        "SELECT ticket_id, key_id, wrapped_key, sealed FROM ticket_vault"
        " WHERE key_id <> $1 AND erased_at IS NULL ORDER BY ticket_id LIMIT $2 FOR UPDATE SKIP LOCKED",
        key_id,
        limit,
    )


async def count_by_key(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT key_id, count(*) AS n FROM ticket_vault WHERE erased_at IS NULL GROUP BY key_id ORDER BY key_id"
    )
    return {str(r["key_id"]): int(r["n"]) for r in rows}


async def erase_closed_before(conn: Conn, *, older_than_days: float, limit: int) -> list[str]:
    """Erase the personal data of up to ``limit`` tickets closed longer ago than the retention period.

    The sealed data, its key and the phone index go; the masked forms become placeholders; the contact
    reference stays (it opens nothing). The ticket, its redacted text and its trail are untouched."""
    rows = await conn.fetch(
        "UPDATE ticket_vault v SET key_id = NULL, wrapped_key = NULL, sealed = NULL, phone_index = NULL,"
        " masked = $3, erased_at = now()"
        " WHERE v.ticket_id IN (SELECT t.id FROM tickets t JOIN ticket_vault w ON w.ticket_id = t.id"
        "  WHERE w.erased_at IS NULL AND t.status = 'closed' AND t.closed_at < now() - make_interval(secs => $1)"
        "  ORDER BY t.closed_at LIMIT $2 FOR UPDATE OF w SKIP LOCKED)"
        " RETURNING v.ticket_id",
        older_than_days * 86400.0,
        limit,
        ERASED,
    )
    return [str(r["ticket_id"]) for r in rows]


#: What the masked citizen shows once erased.
ERASED: dict[str, Any] = {"name": None, "phone": None, "id_number": None, "address": None, "email": None}


def sealed_from(row: Record) -> Sealed:
    return Sealed(row["key_id"], bytes(row["wrapped_key"]), bytes(row["sealed"]))
