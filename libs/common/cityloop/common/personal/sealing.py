"""Envelope encryption of one vault row, and the keyed hashes that find rows without opening them. Pure.

Each row has its own random 256-bit data key (DEK). The personal data is sealed with AES-256-GCM under the
DEK, the ticket id as associated data (a sealed value copied onto another row does not open); the DEK is
wrapped with the key-encryption key (AES key wrap, RFC 3394) named by the row's key id. Rotating the KEK
re-seals rows one by one; nothing ever needs all rows at once.

The same scheme seals the full text of a department's note or a citizen's callback comment where it arrives
(router, feedback: ``seal_free_texts``); the sealed text travels on the event beside its redacted copy and
only intake, which holds every key, opens it into its vault.
"""

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from cityloop.common.personal.redaction import FREE_TEXT, redact
from cityloop.common.personal.vault_keys import Keyring

_NONCE = 12


@dataclass(frozen=True)
class Sealed:
    key_id: str
    wrapped_key: bytes
    #: nonce (12 bytes) followed by the AES-GCM ciphertext and tag.
    sealed: bytes


def seal(keyring: Keyring, plaintext: bytes, *, row: str) -> Sealed:
    """Seal ``plaintext`` for the row ``row`` under a fresh data key wrapped by the current KEK."""
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext, row.encode())
    wrapped = aes_key_wrap(keyring.kek(keyring.current), dek)
    return Sealed(key_id=keyring.current, wrapped_key=wrapped, sealed=nonce + ciphertext)


def open_sealed(keyring: Keyring, sealed: Sealed, *, row: str) -> bytes:
    """The plaintext; raises (InvalidUnwrap, InvalidTag) if the key, the row or the bytes do not match."""
    dek = aes_key_unwrap(keyring.kek(sealed.key_id), sealed.wrapped_key)
    return AESGCM(dek).decrypt(sealed.sealed[:_NONCE], sealed.sealed[_NONCE:], row.encode())


def blind_index(keyring: Keyring, phone_e164: str) -> bytes:
    """HMAC-SHA256 of the normalised phone: equal for the same number, useless without the index key."""
    return hmac.new(keyring.index(), b"phone:" + phone_e164.encode(), hashlib.sha256).digest()


def contact_ref(keyring: Keyring, phone_e164: str | None, ticket_id: str) -> str:
    """An opaque reference to the citizen: the same for repeat callers of one phone, else per ticket."""
    basis = b"contact:" + (phone_e164 or f"ticket:{ticket_id}").encode()
    return "C-" + hmac.new(keyring.index(), basis, hashlib.sha256).hexdigest()[:20]


# --- free text sealed where it arrives, for intake's vault -----------------------------------------------


def text_row(ticket_id: str, path: str) -> str:
    """The associated data of a sealed free text: its ticket and where it sat on the event (``detail.note``),
    so a sealed text copied onto another ticket or field does not open."""
    return f"{ticket_id}/{path}"


def seal_free_texts(keyring: Keyring, ticket_id: str, value: Any, *, path: str) -> list[tuple[str, Sealed]]:
    """Every free-text string under ``value`` (a JSON-like dump) that redaction would change, sealed: the full
    text the event itself will carry only masked. (path, sealed) pairs; texts without personal data need none."""
    found: list[tuple[str, Sealed]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in FREE_TEXT and isinstance(item, str):
                if redact(item) != item:
                    found.append((where, seal(keyring, item.encode(), row=text_row(ticket_id, where))))
            else:
                found += seal_free_texts(keyring, ticket_id, item, path=where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += seal_free_texts(keyring, ticket_id, item, path=f"{path}.{i}")
    return found
