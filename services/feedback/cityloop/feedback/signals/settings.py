"""The stream worker's settings: ``CITYLOOP_SIGNALS_*`` over the shared ``CITYLOOP_*`` (Kafka, prefix)."""

import tempfile
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import CommonSettings
from cityloop.feedback.signals.surges import SurgeRules


class SignalsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_SIGNALS_", extra="ignore")
    #: Part of feedback: its consumer group, changelogs and internal topics are "<prefix>cityloop.feedback.signals*".
    service_name: ClassVar[str] = "feedback"

    #: /metrics, /healthz, /readyz of the worker (faust's web server).
    http_port: int = 8004
    #: faust's data directory (nothing of value: the tables are in memory and in their changelogs).
    data_dir: Path = Path(tempfile.gettempdir()) / "cityloop-signals"
    #: Partitions of the worker's internal topics (repartition topic, table changelogs).
    partitions: int = Field(default=6, ge=1)
    #: faust consumer group timeouts: faust's defaults (60 s session, 60 s rebalance) make a worker
    #: take half a minute to become ready and to notice a dead peer; tests lower them further.
    session_timeout_seconds: float = Field(default=10.0, gt=0)
    heartbeat_interval_seconds: float = Field(default=1.0, gt=0)
    rebalance_timeout_seconds: float = Field(default=10.0, gt=0)
    commit_interval_seconds: float = Field(default=1.0, gt=0)
    #: How long the producer holds records to send them together (faust's producer_linger). Every table
    #: write is a changelog record: sent one request each (faust's default, 0) they were the worker's main
    #: cost. Hot spots are published every few seconds anyway, so a few tens of ms cost no freshness.
    producer_linger_seconds: float = Field(default=0.05, ge=0)
    #: Each fetch waits for this much data, or at most FETCH_MAX_WAIT_SECONDS (fetching.py): a few fetch
    #: requests a second instead of one per record (faust's own: 1 byte, so at once).
    fetch_min_bytes: int = Field(default=256 * 1024, ge=1)
    fetch_max_wait_seconds: float = Field(default=0.5, gt=0)
    #: How often changed hot-spot counts are published to feedback (coalesced per key in between).
    snapshot_interval_seconds: float = Field(default=2.0, gt=0)

    surge_window_seconds: int = Field(default=3600, gt=0)
    surge_bucket_seconds: int = Field(default=300, gt=0)
    surge_ratio: float = Field(default=3.0, gt=0)
    surge_floor: float = Field(default=2.0, gt=0)
    surge_min_count: int = Field(default=10, ge=1)
    surge_half_life_seconds: float = Field(default=7 * 86400, gt=0)
    surge_cooldown_seconds: int = Field(default=3600, ge=0)

    @model_validator(mode="after")
    def _rules_valid(self) -> "SignalsSettings":
        self.surge_rules()  # raises ValueError on an inconsistent window/bucket pair
        return self

    @property
    def app_id(self) -> str:
        """faust's app id: the consumer group and the stem of every internal topic."""
        return f"{self.topic_prefix}cityloop.feedback.signals"  # app.APP_ID with the prefix

    def surge_rules(self) -> SurgeRules:
        return SurgeRules(
            window_seconds=self.surge_window_seconds,
            bucket_seconds=self.surge_bucket_seconds,
            ratio=self.surge_ratio,
            floor=self.surge_floor,
            min_count=self.surge_min_count,
            half_life_seconds=self.surge_half_life_seconds,
            cooldown_seconds=self.surge_cooldown_seconds,
        )
