"""Every Deployment in every rendered overlay gives its service the environment its settings class needs.

"Needs" is derived from the settings classes, not listed by hand: a field without a default, or a field whose
default the class refuses in production (the development secrets). Each container (init containers too) of
each Deployment must set those variables (a value, a ConfigMap key or a Secret reference), and the settings
class must then load from exactly that environment, with Secrets standing in as strong random values.
"""

import importlib
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from cityloop.common.migrate_process import settings_class
from cityloop.common.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "router", "sla", "feedback")
Obj = dict[str, Any]
TEXT: tuple[object, ...] = (str, SecretStr, str | None, SecretStr | None)


def _strong() -> str:
    return secrets.token_hex(32)


def _prefixes(cls: type[CommonSettings]) -> tuple[str, ...]:
    own = str(cls.model_config.get("env_prefix", "CITYLOOP_"))
    return (own, "CITYLOOP_") if own != "CITYLOOP_" else ("CITYLOOP_",)


def _loads(cls: type[CommonSettings], **values: object) -> bool:
    try:
        cls(**values)  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


def required_fields(cls: type[CommonSettings]) -> set[str]:
    """Fields that production cannot leave at their default: no default at all, or a default the class
    refuses in production. A text field is refused at its default if the class loads in production with
    every text field set to a strong value, and not with all but that one."""
    required = {name for name, f in cls.model_fields.items() if f.is_required()}
    texts = {name for name, f in cls.model_fields.items() if f.annotation in TEXT} - required
    base: dict[str, object] = {"environment": "production", **{n: _strong() for n in required}}
    assert _loads(cls, **base, **{n: _strong() for n in texts}), f"{cls.__name__} refuses even strong values"
    return required | {n for n in texts if not _loads(cls, **base, **{m: _strong() for m in texts - {n}})}


def _render(tmp: Path) -> dict[str, list[Obj]]:
    subprocess.run([str(REPO / "deploy/k8s/validate.sh"), "--render", str(tmp)], check=True, capture_output=True)
    return {
        p.stem: [d for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d] for p in sorted(tmp.glob("*.yaml"))
    }


@pytest.fixture(scope="module")
def overlays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Obj]]:
    rendered = _render(tmp_path_factory.mktemp("k8s"))
    assert set(rendered) == {"production", "staging"}
    return rendered


def container_environment(container: Obj, objs: list[Obj]) -> dict[str, str]:
    """What the container's process sees: ConfigMap keys, literal values, and a strong value per Secret key."""
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]])
        else:  # a whole Secret: its keys are not in the manifests, so nothing is known to be set
            assert "secretRef" in source, source
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = configmaps[ref["name"]][ref["key"]]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            env[var["name"]] = _strong()
    return env


def test_required_fields_are_derived_from_the_settings_classes() -> None:
    # The derivation finds the development secrets each class refuses in production.
    assert required_fields(settings_class("router")) == {"internal_secret", "intake_vault_key"}
    assert required_fields(settings_class("intake")) == {
        "internal_secret",
        "jwt_secret",
        "vault_key",
        "vault_index_key",
    }


def settings_for(command: list[str]) -> type[CommonSettings]:
    """The settings class the container's ``python -m cityloop.<...>`` loads: the one defined in that
    module's package ``settings`` (cityloop.feedback.signals.settings), else the service's."""
    module = command[command.index("-m") + 1]
    if module == "cityloop.common.migrate_process":
        return settings_class(command[-1])
    for candidate in (f"{module}.settings", f"cityloop.{module.split('.')[1]}.settings"):
        try:
            found = importlib.import_module(candidate)
        except ModuleNotFoundError:
            continue
        classes = [
            v
            for v in vars(found).values()
            if isinstance(v, type) and issubclass(v, CommonSettings) and v.__module__ == candidate
        ]
        if classes:
            (cls,) = classes
            return cls
    raise AssertionError(f"no settings class for {command}")


@pytest.mark.parametrize("env", ["production", "staging"])
def test_every_deployment_sets_what_its_settings_require(
    overlays: dict[str, list[Obj]], env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objs = overlays[env]
    deployments = [o for o in objs if o["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} >= set(SERVICES)
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            cls = settings_for(container["command"])
            where = f"{env} Deployment/{deployment['metadata']['name']} container {container['name']}"
            environment = container_environment(container, objs)
            missing = [
                f"{_prefixes(cls)[0]}{field.upper()}"
                for field in sorted(required_fields(cls))
                if not any(f"{prefix}{field.upper()}" in environment for prefix in _prefixes(cls))
            ]
            assert missing == [], f"{where} does not set {missing}"
            # And the class loads from exactly that environment.
            for name in [n for n in os.environ if n.startswith("CITYLOOP_")]:
                monkeypatch.delenv(name)
            for name, value in environment.items():
                monkeypatch.setenv(name, value)
            assert cls().environment == "production", where
