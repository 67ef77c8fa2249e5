from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings


class RouterSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_ROUTER_", extra="ignore")
    service_name: ClassVar[str] = "router"

    http_port: int = 8001
