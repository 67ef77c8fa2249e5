from datetime import time
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cityloop.common.calendar import OfficeHours
from cityloop.common.settings import CommonSettings
from cityloop.sla.policy import PolicyBook


class SlaSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_SLA_", extra="ignore")
    service_name: ClassVar[str] = "sla"

    http_port: int = 8002
    #: Deadline policies; ``CITYLOOP_SLA_POLICIES`` takes the same shape as JSON.
    policies: PolicyBook = Field(default_factory=PolicyBook)
    office_opens: time = time(9, 0)
    office_closes: time = time(17, 30)
    #: The firing loop never sleeps longer than this, so a clock opened with a near deadline is seen.
    tick_seconds: float = Field(default=0.25, gt=0)
    #: After a round that was not full, wait at least this long: rounds carry many timers instead of
    #: one each, at the price of this much lateness.
    fire_gap_seconds: float = Field(default=0.02, ge=0)
    #: Timers claimed per transaction.
    fire_batch: int = Field(default=2000, ge=1)
    #: Firing emits two events per timer, so the relay moves bigger batches than the shared default.
    outbox_batch: int = Field(default=2000, ge=1)
    #: How often the live-timers gauge is recounted (a count over the partial index).
    live_count_seconds: float = Field(default=30.0, gt=0)
    #: At most this many distinct departments / categories as metric labels; the rest are "other".
    metric_label_limit: int = Field(default=500, ge=1)

    @property
    def office_hours(self) -> OfficeHours:
        return OfficeHours(self.office_opens, self.office_closes)
