"""`make run`'s secrets: random values generated once per checkout into `.local/secrets.env`, never the
published development defaults (settings.py's "dev-only-..." values), so a token forged with those defaults
is refused by a local installation. `make test` keeps the test environment's own values."""

import os
import secrets
from collections.abc import Callable
from pathlib import Path

#: Setting (environment variable) -> how many random bytes it gets, or what makes its value.
GENERATED: dict[str, int | Callable[[], str]] = {
    "CITYLOOP_INTERNAL_SECRET": 48,  # signs the gateway's identity header (libs/common identity.py)
    "CITYLOOP_INTAKE_JWT_SECRET": 48,  # signs access tokens (intake accounts)
    # The personal-data vault (libs/common personal/vault_keys.py): its key-encryption key, named local1, and the key of
    # the phone blind index.
    "CITYLOOP_INTAKE_VAULT_KEY": 48,
    "CITYLOOP_INTAKE_VAULT_KEY_ID": lambda: "local1",
    "CITYLOOP_INTAKE_VAULT_INDEX_KEY": 48,
}


def _generate(how: int | Callable[[], str]) -> str:
    return secrets.token_urlsafe(how) if isinstance(how, int) else how()


def secrets_file(home: str | None = None) -> Path:
    return Path(home or os.environ.get("CITYLOOP_HOME") or ".local") / "secrets.env"


def read(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def ensure(path: Path) -> dict[str, str]:
    """The local secrets, generating (only) the missing ones; the file is readable by its owner only."""
    values = read(path) if path.exists() else {}
    missing = {name: _generate(how) for name, how in GENERATED.items() if not values.get(name)}
    if missing or not path.exists():
        values.update(missing)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "# generated once by scripts/local_secrets.py for `make run`; keep private\n"
        text += "".join(f"{name}={value}\n" for name, value in values.items())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        path.chmod(0o600)
    return values


def effective(path: Path | None = None) -> dict[str, str]:
    """The values the services run with: the local secrets (generated if missing), each overridden by the
    environment when it sets that name explicitly."""
    local = ensure(path or secrets_file())
    return {name: os.environ.get(name, value) for name, value in local.items()}
