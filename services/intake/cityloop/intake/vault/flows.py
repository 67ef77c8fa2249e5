"""Sealing a ticket's personal data as it is created, and releasing it to those the rules allow."""

from typing import Annotated

import orjson
from fastapi import Depends, Request

from cityloop.common.db.pool import Conn
from cityloop.common.personal.validation import phone_e164
from cityloop.intake.vault import store
from cityloop.intake.vault.keys import Keyring
from cityloop.intake.vault.personal import Personal
from cityloop.intake.vault.sealing import blind_index, contact_ref, open_sealed, seal


def phone_index(keyring: Keyring, phone: str | None) -> bytes | None:
    """The blind index of a phone as written by anyone (13812345678, +86 138-1234-5678), None if invalid."""
    if not phone:
        return None
    try:
        return blind_index(keyring, phone_e164(phone))
    except ValueError:
        return None


async def seal_ticket(conn: Conn, keyring: Keyring, ticket_id: str, personal: Personal) -> str:
    """Store the ticket's vault row; returns its contact reference."""
    e164 = None
    if personal.phone:
        try:
            e164 = phone_e164(personal.phone)
        except ValueError:
            e164 = None  # rows from before phones were validated keep a per-ticket reference
    ref = contact_ref(keyring, e164, ticket_id)
    sealed = seal(keyring, orjson.dumps(personal.model_dump(exclude_defaults=True)), row=ticket_id)
    await store.insert(
        conn,
        ticket_id,
        sealed,
        phone_index=blind_index(keyring, e164) if e164 else None,
        contact_ref=ref,
        masked=personal.masked(),
    )
    return ref


async def release(conn: Conn, keyring: Keyring, ticket_id: str) -> Personal | None:
    """The ticket's personal data in full (None once erased). Callers check the rules and log the read."""
    sealed = await store.sealed_of(conn, ticket_id)
    if sealed is None:
        return None
    return Personal.model_validate_json(open_sealed(keyring, sealed, row=ticket_id))


async def _keyring(request: Request) -> Keyring:  # async: FastAPI runs a plain def in a thread
    keyring: Keyring = request.app.state.keyring
    return keyring


#: The request's vault keys (set on the app in app.py).
VaultKeys = Annotated[Keyring, Depends(_keyring)]
