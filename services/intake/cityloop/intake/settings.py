from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings


class IntakeSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_INTAKE_", extra="ignore")
    service_name: ClassVar[str] = "intake"

    http_port: int = 8000
    #: Where the gateway forwards the parts of /api/v1 other services own.
    router_url: str = "http://127.0.0.1:8001"
    sla_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"
