from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cityloop.common.settings import SealingSettings


class RouterSettings(SealingSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_ROUTER_", extra="ignore")
    service_name: ClassVar[str] = "router"

    http_port: int = 8001
    #: Create every department's task topic at start (production: department systems subscribe before
    #: their first task). False creates each on the first task sent to it (test runs, which would
    #: otherwise add ~900 topics per run to the shared broker).
    task_topics_at_start: bool = True
    #: below this classification confidence a dispatcher confirms (see README for the measured trade-off)
    confidence_threshold: float = Field(default=0.5, ge=0, le=1)
    handover_threshold: float = Field(default=0.3, ge=0, le=1)
    #: generated examples per category the classifier is seeded with (labelled tickets come on top)
    seed_examples_per_category: int = Field(default=60, ge=3)
    seed_generator_seed: int = 20261122
    #: a labelled example (dispatcher correction, upheld rejection) counts as this many generated ones
    labelled_weight: int = Field(default=3, ge=1)
    #: the scheduled retraining looks for new labelled examples this often
    retrain_interval_seconds: float = Field(default=3600, gt=0)
    models_kept: int = Field(default=5, ge=1)
    #: open tickets re-homed per transaction when an emergency is declared, changed or stood down
    rehome_batch: int = Field(default=1000, ge=1, le=20000)
    #: re-homing batches in flight at once, each on its own connection (rehoming.py Rehomer._sweep)
    rehome_workers: int = Field(default=2, ge=1, le=8)
