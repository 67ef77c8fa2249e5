from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings


class DemoSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_DEMO_", extra="ignore")
    service_name: ClassVar[str] = "demo"


def test_service_prefix_beats_the_shared_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLOOP_KAFKA_BOOTSTRAP", "shared:9092")
    monkeypatch.setenv("CITYLOOP_TOPIC_PREFIX", "city-a.")
    monkeypatch.setenv("CITYLOOP_DEMO_KAFKA_BOOTSTRAP", "own:9092")
    settings = DemoSettings()
    assert settings.kafka_bootstrap == "own:9092"
    assert settings.topic_prefix == "city-a."
    assert settings.db_schema == "demo"


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLOOP_ENVIRONMENT", "production")
    monkeypatch.delenv("CITYLOOP_INTERNAL_SECRET", raising=False)
    with pytest.raises(ValidationError, match="CITYLOOP_INTERNAL_SECRET"):
        DemoSettings()
    monkeypatch.setenv("CITYLOOP_INTERNAL_SECRET", "a-real-secret")
    assert DemoSettings().internal_secret == "a-real-secret"
