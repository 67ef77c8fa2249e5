"""Envelope encryption of one vault row, and the keyed hashes that find rows without opening them. Pure.

Each row has its own random 256-bit data key (DEK). The personal data is sealed with AES-256-GCM under the
DEK, the ticket id as associated data (a sealed value copied onto another row does not open); the DEK is
wrapped with the key-encryption key (AES key wrap, RFC 3394) named by the row's key id. Rotating the KEK
re-seals rows one by one; nothing ever needs all rows at once.
"""

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from cityloop.intake.vault.keys import Keyring

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
    return hmac.new(keyring.index_key, b"phone:" + phone_e164.encode(), hashlib.sha256).digest()


def contact_ref(keyring: Keyring, phone_e164: str | None, ticket_id: str) -> str:
    """An opaque reference to the citizen: the same for repeat callers of one phone, else per ticket."""
    basis = b"contact:" + (phone_e164 or f"ticket:{ticket_id}").encode()
    return "C-" + hmac.new(keyring.index_key, basis, hashlib.sha256).hexdigest()[:20]
