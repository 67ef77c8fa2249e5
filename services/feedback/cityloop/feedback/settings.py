from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings


class FeedbackSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_FEEDBACK_", extra="ignore")
    service_name: ClassVar[str] = "feedback"

    http_port: int = 8003
