"""`make run` generates its secrets once into .local/ and never uses the published defaults (issue 11)."""

import stat
from pathlib import Path

from scripts import local_secrets

from cityloop.common.settings import CommonSettings
from cityloop.intake.settings import IntakeSettings


def test_secrets_are_random_generated_once_and_private(tmp_path: Path) -> None:
    path = local_secrets.secrets_file(str(tmp_path / ".local"))
    first = local_secrets.ensure(path)
    assert set(first) == set(local_secrets.GENERATED)
    assert local_secrets.ensure(path) == first  # once: a restart keeps the same secrets (tokens stay valid)
    assert local_secrets.read(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = local_secrets.ensure(local_secrets.secrets_file(str(tmp_path / "elsewhere")))
    assert other["CITYLOOP_INTERNAL_SECRET"] != first["CITYLOOP_INTERNAL_SECRET"]
    defaults = {
        CommonSettings.model_fields["internal_secret"].default,
        IntakeSettings.model_fields["jwt_secret"].default,
        IntakeSettings.model_fields["vault_key"].default,
        IntakeSettings.model_fields["vault_index_key"].default,
    }
    assert not defaults & set(first.values())
    assert all(len(value) >= 32 for name, value in first.items() if not name.endswith("_KEY_ID"))
    # The vault's keys are usable as generated (32-byte AES keys, the current one among them).
    vault = IntakeSettings(
        environment="production",
        jwt_secret=first["CITYLOOP_INTAKE_JWT_SECRET"],
        internal_secret=first["CITYLOOP_INTERNAL_SECRET"],
        vault_key=first["CITYLOOP_INTAKE_VAULT_KEY"],
        vault_key_id=first["CITYLOOP_INTAKE_VAULT_KEY_ID"],
        vault_index_key=first["CITYLOOP_INTAKE_VAULT_INDEX_KEY"],
    ).keyring()
    assert vault.current == "local1"


def test_a_missing_secret_is_added_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("CITYLOOP_INTERNAL_SECRET=kept-value-of-my-own\n")
    values = local_secrets.ensure(path)
    assert values["CITYLOOP_INTERNAL_SECRET"] == "kept-value-of-my-own"
    assert len(values["CITYLOOP_INTAKE_JWT_SECRET"]) >= 32
    assert local_secrets.read(path) == values
