from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import SealingSettings

#: intake's demo system account, used only in development and test when no key is configured.
_DEMO_KEY = "demo-hotline-cti-key"


class FeedbackSettings(SealingSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_FEEDBACK_", extra="ignore")
    service_name: ClassVar[str] = "feedback"

    http_port: int = 8003
    #: The API gateway (intake), where feedback asks for proactive tickets like any other system.
    gateway_url: str = "http://127.0.0.1:8000"
    #: feedback's own API key at the gateway (a system account that may create tickets). Without one
    #: (in production) recurring problems are still found and listed, but cannot become tickets (503).
    gateway_api_key: SecretStr | None = None
    #: Calls that find nobody before the callback closes as unreachable (and leaves 三率).
    callback_max_attempts: int = Field(default=3, ge=1, le=20)
    #: When the next attempt is, unless the operator names a time.
    callback_retry_minutes: int = Field(default=120, ge=1)
    #: How long an operator's claim keeps others off a callback.
    callback_claim_minutes: int = Field(default=30, ge=1)
    #: How long a citizen's one-time link stays valid.
    callback_link_hours: int = Field(default=72, ge=1)
    #: The gateway's public address, for the links sent to citizens.
    public_base_url: str = "http://127.0.0.1:8000"

    def gateway_key(self) -> str | None:
        if self.gateway_api_key is not None:
            return self.gateway_api_key.get_secret_value()
        return _DEMO_KEY if self.environment in {"development", "test"} else None
