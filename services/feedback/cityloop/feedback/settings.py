from typing import ClassVar

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings

#: intake's demo system account (development and test only; production refuses it).
_DEMO_KEY = "demo-hotline-cti-key"


class FeedbackSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_FEEDBACK_", extra="ignore")
    service_name: ClassVar[str] = "feedback"

    http_port: int = 8003
    #: The API gateway (intake), where feedback asks for proactive tickets like any other system.
    gateway_url: str = "http://127.0.0.1:8000"
    #: feedback's own API key at the gateway (a system account that may create tickets).
    gateway_api_key: SecretStr = SecretStr(_DEMO_KEY)

    @model_validator(mode="after")
    def _no_demo_key_in_production(self) -> "FeedbackSettings":
        if self.environment == "production" and self.gateway_api_key.get_secret_value() == _DEMO_KEY:
            raise ValueError("CITYLOOP_FEEDBACK_GATEWAY_API_KEY must be set in production")
        return self
