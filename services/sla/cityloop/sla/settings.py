from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings


class SlaSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_SLA_", extra="ignore")
    service_name: ClassVar[str] = "sla"

    http_port: int = 8002
    #: How often the firing loop looks for due clocks when it found none.
    tick_seconds: float = Field(default=0.2, gt=0)
    fire_batch: int = Field(default=1000, ge=1)
    #: 预警 at this share of the allowed time.
    warn_ratio: float = Field(default=0.8, gt=0, lt=1)
    callback_days: int = Field(default=2, ge=0)
