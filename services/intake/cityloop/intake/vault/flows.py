"""Sealing a ticket's personal data as it is created, and releasing it to those the rules allow."""

import base64
from typing import Annotated

import orjson
from fastapi import Depends, Request

from cityloop.common.contract.lifecycle import SealedText
from cityloop.common.db.composed import Composed
from cityloop.common.db.pool import Conn
from cityloop.common.personal.sealing import Sealed, blind_index, contact_ref, open_sealed, seal, text_row
from cityloop.common.personal.validation import phone_e164
from cityloop.common.personal.vault_keys import Keyring
from cityloop.intake.vault import store
from cityloop.intake.vault.personal import Personal, event_text_key


def phone_index(keyring: Keyring, phone: str | None) -> bytes | None:
    """The blind index of a phone as written by anyone (13812345678, +86 138-1234-5678), None if invalid."""
    if not phone:
        return None
    try:
        return blind_index(keyring, phone_e164(phone))
    except ValueError:
        return None


def seal_ticket_into(q: Composed, name: str, keyring: Keyring, ticket_id: str, personal: Personal, *, gate: str) -> str:
    """Add the ticket's vault row to ``q`` (db/composed.py) as the CTE ``name``; returns its contact
    reference."""
    e164 = None
    if personal.phone:
        try:
            e164 = phone_e164(personal.phone)
        except ValueError:
            e164 = None  # rows from before phones were validated keep a per-ticket reference
    ref = contact_ref(keyring, e164, ticket_id)
    sealed = seal(keyring, orjson.dumps(personal.model_dump(exclude_defaults=True)), row=ticket_id)
    store.insert_into(
        q,
        name,
        ticket_id,
        sealed,
        phone_index=blind_index(keyring, e164) if e164 else None,
        contact_ref=ref,
        masked=personal.masked(),
        gate=gate,
    )
    return ref


async def seal_ticket(conn: Conn, keyring: Keyring, ticket_id: str, personal: Personal) -> str:
    """Store the ticket's vault row on its own (migration.py); returns its contact reference."""
    q = Composed()
    ref = seal_ticket_into(q, "vault", keyring, ticket_id, personal, gate="true")
    await q.fetch(conn, "SELECT 1")  # a writing CTE runs whether or not the final SELECT reads it
    return ref


async def release(conn: Conn, keyring: Keyring, ticket_id: str) -> Personal | None:
    """The ticket's personal data in full (None once erased). Callers check the rules and log the read."""
    sealed = await store.sealed_of(conn, ticket_id)
    if sealed is None:
        return None
    return Personal.model_validate_json(open_sealed(keyring, sealed, row=ticket_id))


async def keep_sealed_texts(
    conn: Conn, keyring: Keyring, ticket_id: str, event_id: str, texts: list[SealedText]
) -> list[str]:
    """Open the full texts another service sealed on a lifecycle event (a department's note, a callback
    comment) into the ticket's vault row, which is re-sealed with them; released like the description.
    Returns the keys kept; none once the row is erased (retention) or for a ticket without one."""
    sealed = await store.sealed_for_update(conn, ticket_id)
    if sealed is None:
        return []
    personal = Personal.model_validate_json(open_sealed(keyring, sealed, row=ticket_id))
    kept = []
    for text in texts:
        received = Sealed(text.key_id, base64.b64decode(text.wrapped_key), base64.b64decode(text.sealed))
        key = event_text_key(event_id, text.path)
        personal.texts[key] = open_sealed(keyring, received, row=text_row(ticket_id, text.path)).decode()
        kept.append(key)
    await store.replace_sealed(
        conn, ticket_id, seal(keyring, orjson.dumps(personal.model_dump(exclude_defaults=True)), row=ticket_id)
    )
    return kept


async def _keyring(request: Request) -> Keyring:  # async: FastAPI runs a plain def in a thread
    keyring: Keyring = request.app.state.keyring
    return keyring


#: The request's vault keys (set on the app in app.py).
VaultKeys = Annotated[Keyring, Depends(_keyring)]
