"""The vault's keys, from settings (local: .local/secrets.env; production: the cityloop-intake-vault Secret).

``CITYLOOP_INTAKE_VAULT_KEY`` is the secret of the key-encryption key (KEK) new rows are sealed with, named
``CITYLOOP_INTAKE_VAULT_KEY_ID``; ``CITYLOOP_INTAKE_VAULT_PREVIOUS_KEYS`` (JSON ``{"id": "secret"}``) keeps
older KEKs readable. Rotation (intake vault/rotation.py): move the current key into the previous ones, set a
new key and id, restart, run the job; rows name their key, so both open while it runs; then drop the old key.
``CITYLOOP_INTAKE_VAULT_INDEX_KEY`` keys the phone blind index. Each secret (32 characters or more) is turned
into a 256-bit key with HKDF-SHA256, so any strong random string works.

Intake holds every key. Router and feedback hold only the current KEK and its id (``Keyring.sealing_only``):
they seal the full text of the notes and comments they receive for intake's vault (sealing.py), and keep none.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET = 32
#: Development and test only (refused in production): `make run` uses random keys from .local/secrets.env.
DEV_VAULT_KEY = "dev-only-vault-key-change-me-0123456789"
DEV_VAULT_KEY_ID = "dev1"


class VaultKeyError(ValueError):
    """A vault key setting that cannot be used."""


def derive(secret: str, purpose: str) -> bytes:
    if len(secret) < MIN_SECRET:
        raise VaultKeyError(f"vault {purpose} secret: at least {MIN_SECRET} characters")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cityloop-vault-{purpose}".encode()).derive(
        secret.encode()
    )


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]
    #: None in a service that only seals (no blind index there).
    index_key: bytes | None

    @classmethod
    def from_secrets(
        cls, *, key_id: str, key: str, index_key: str, previous: Mapping[str, str] | None = None
    ) -> "Keyring":
        keys = {old_id: derive(secret, "kek") for old_id, secret in (previous or {}).items()}
        keys[key_id] = derive(key, "kek")
        return cls(current=key_id, keys=keys, index_key=derive(index_key, "index"))

    @classmethod
    def sealing_only(cls, *, key_id: str, key: str) -> "Keyring":
        """The current KEK alone: enough to seal for the vault (router, feedback)."""
        return cls(current=key_id, keys={key_id: derive(key, "kek")}, index_key=None)

    def kek(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise VaultKeyError(f"vault key {key_id!r} is not configured (still needed by sealed rows)") from None

    def index(self) -> bytes:
        if self.index_key is None:
            raise VaultKeyError("this keyring only seals: the blind index key is intake's alone")
        return self.index_key
