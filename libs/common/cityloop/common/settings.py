"""Settings: one base read from ``CITYLOOP_*``; each service overrides any field with its own prefix
(``CITYLOOP_ROUTER_DATABASE_URL`` beats ``CITYLOOP_DATABASE_URL``)."""

from typing import ClassVar, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from cityloop.common.personal.vault_keys import DEV_VAULT_KEY, DEV_VAULT_KEY_ID, MIN_SECRET, Keyring


def with_login(url: str, user: str, password: str | None) -> str:
    """``url`` (postgresql://user:password@host/db?...) with another user and password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_", extra="ignore")

    #: The service's name: event ``source``, consumer group prefix, database schema.
    service_name: ClassVar[str] = "cityloop"

    environment: Literal["development", "test", "production"] = "development"
    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Copies of each topic CityLoop creates (1 on the single local broker, 3 in production).
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: CA bundle that signed the brokers' certificates (SSL / SASL_SSL).
    kafka_ssl_cafile: str | None = None
    #: Prepended to every topic name, so several deployments (or test runs) can share one cluster.
    topic_prefix: str = ""
    #: The database, as the login that owns the service's schema: migrations and grants run as it
    #: (db/roles.py). The service itself connects as ``db_user`` (``service_database_url``), never as this.
    #: Locally ``cityloop_owner`` (scripts/infra/postgres.sh): no superuser, CREATEDB nor CREATEROLE.
    database_url: str = "postgresql://cityloop_owner@127.0.0.1:55432/cityloop"
    #: The service's own login role, with rights only on its own schema; default ``cityloop_<service>``.
    #: Set it to the owner's user name to connect as the owner (no separate role).
    db_user: str | None = None
    db_password: SecretStr | None = None
    #: False when migrations run before the service (the Kubernetes init container, migrate_process.py).
    migrate_at_start: bool = True
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    #: How long a request or a consumer waits for a free pooled connection before giving up (db/pool.py):
    #: a saturated database answers 503 + Retry-After instead of queueing callers until they time out.
    db_pool_wait_seconds: float = Field(default=5.0, gt=0)
    #: What a 503 (database saturated or away, http_errors.py) tells the client to wait before retrying.
    retry_after_seconds: int = Field(default=2, ge=1)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: Signs the identity the gateway hands to services (identity.py). The development default is
    #: refused outside development and test.
    internal_secret: str = "dev-only-internal-secret"
    log_level: str = "INFO"
    log_json: bool = True
    #: Outbox relay: how many rows it publishes per round and how long it sleeps when idle. 2000 a round: a
    #: bulk publish (an emergency switch, ~550,000 events) pays the round's fixed costs a quarter as often.
    outbox_batch: int = Field(default=2000, ge=1)
    outbox_idle_seconds: float = Field(default=0.5, gt=0)
    #: False when the relay runs as its own process (``python -m cityloop.common.relay_process <service>``).
    outbox_relay_in_process: bool = True
    #: Housekeeping (housekeeping.py). The inbox remembers applied event ids longer than any copy of an
    #: event can come back: topics keep 30 days and DLQs 90 (topics.py), so a replay is still recognised.
    inbox_retention_days: float = Field(default=120, gt=90)
    #: Published outbox rows kept for forensics (longer than the topics, which hold the same events).
    outbox_retention_days: float = Field(default=35, gt=0)
    housekeeping_interval_seconds: float = Field(default=3600, gt=0)
    housekeeping_batch: int = Field(default=5000, ge=1)
    #: Consumer group liveness: a member that does not poll for ``max_poll_interval`` or does not heartbeat
    #: for ``session_timeout`` is dropped and its partitions rebalanced (the fault harness, tests/chaos/,
    #: lowers both so that a paused process forces a rebalance within its run).
    kafka_max_poll_interval_ms: int = Field(default=300_000, ge=1_000)
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    #: A consumed message larger than this goes to the DLQ unparsed (kafka/consumer.py).
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    #: Events of one partition a consumer applies in one transaction (kafka/consumer.py; 1: one per event).
    consumer_batch: int = Field(default=50, ge=1)
    #: A consumer of a busy topic (``ServiceRuntime.consume(busy=True)``) fetches when this many bytes are there
    #: or ``kafka_fetch_busy_wait_ms`` passed: fewer, fuller fetches (and transactions) for at most that much
    #: more latency per hop. Other consumers fetch as soon as one record is there.
    kafka_fetch_busy_min_bytes: int = Field(default=65_536, ge=1)
    kafka_fetch_busy_wait_ms: int = Field(default=100, ge=0)
    #: A consumer over a topic pattern (``consume_sourced``: every department's updates, ~1,100 partitions,
    #: each fetch costing ~13 ms of CPU whatever it carries) fetches when this many bytes are there or
    #: ``kafka_fetch_pattern_wait_ms`` passed: a department's update waits at most that long when traffic is
    #: light, and under load a fetch carries dozens of updates instead of one or two.
    kafka_fetch_pattern_min_bytes: int = Field(default=16_384, ge=1)
    kafka_fetch_pattern_wait_ms: int = Field(default=1_000, ge=0)

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> "CommonSettings":
        if self.environment == "production" and self.internal_secret.startswith("dev-only"):
            raise ValueError("CITYLOOP_INTERNAL_SECRET must be set in production")
        return self

    @property
    def db_schema(self) -> str:
        return self.service_name

    @property
    def db_role(self) -> str | None:
        """The service's login role, or None when it connects as the owner (the generic settings)."""
        if self.db_user is not None:
            return self.db_user or None
        return None if self.service_name == "cityloop" else f"cityloop_{self.service_name}"

    @property
    def service_database_url(self) -> str:
        """``database_url`` with the service's role (and password) in place of the owner's."""
        role = self.db_role
        if role is None:
            return self.database_url
        password = self.db_password.get_secret_value() if self.db_password else None
        return with_login(self.database_url, role, password)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The service prefix (subclass model_config) wins over the shared CITYLOOP_ prefix.
        shared = EnvSettingsSource(settings_cls, env_prefix="CITYLOOP_")
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings


class SealingSettings(CommonSettings):
    """Settings of a service that receives free text from outside and seals its full text for intake's vault
    (router: departments' notes; feedback: callback comments): the vault's current key-encryption key and its
    id, the same ``CITYLOOP_INTAKE_VAULT_KEY`` / ``_KEY_ID`` intake reads (the shared ``CITYLOOP_`` prefix reads
    them). Neither the older keys nor the blind index key: those are intake's alone."""

    intake_vault_key: SecretStr = Field(default=SecretStr(DEV_VAULT_KEY), min_length=MIN_SECRET)
    intake_vault_key_id: str = Field(default=DEV_VAULT_KEY_ID, min_length=1, max_length=64)

    def vault_sealer(self) -> Keyring:
        return Keyring.sealing_only(key_id=self.intake_vault_key_id, key=self.intake_vault_key.get_secret_value())

    @model_validator(mode="after")
    def _no_development_vault_key_in_production(self) -> "SealingSettings":
        if self.environment == "production" and self.intake_vault_key.get_secret_value() == DEV_VAULT_KEY:
            raise ValueError("CITYLOOP_INTAKE_VAULT_KEY must be set in production")
        return self
