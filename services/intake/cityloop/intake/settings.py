from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from cityloop.common.personal.vault_keys import DEV_VAULT_KEY, DEV_VAULT_KEY_ID, Keyring
from cityloop.common.settings import CommonSettings

#: Development and test only (refused in production): `make run` uses random keys from .local/secrets.env.
DEV_VAULT_INDEX_KEY = "dev-only-vault-index-key-change-me-0123456789"


class IntakeSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_INTAKE_", extra="ignore")
    service_name: ClassVar[str] = "intake"

    http_port: int = 8000
    #: Where the gateway forwards the parts of /api/v1 other services own.
    router_url: str = "http://127.0.0.1:8001"
    sla_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"

    #: Signs operators' access tokens (HS256). The development default is refused in production.
    jwt_secret: str = Field(default="dev-only-jwt-secret-change-me-0123456789", min_length=32)
    token_ttl_seconds: int = Field(default=3600, ge=60, le=12 * 3600)
    #: Demo accounts and the demo Open311 key; None means "on in development and test, off in production".
    demo_accounts: bool | None = None

    #: Open311 GeoReport v2: the one jurisdiction this endpoint serves, and what discovery says.
    open311_jurisdiction_id: str = "12345.city.gov.cn"
    open311_base_url: str = "http://127.0.0.1:8000/open311/v2"
    open311_contact: str = "12345 市民服务热线 open data desk: open311@12345.city.gov.cn"
    open311_key_service: str = "Ask the 12345 open data desk for an api_key: open311@12345.city.gov.cn"
    #: The jurisdiction's box (south, west, north, east): Open311 points outside it are refused. Shanghai.
    open311_bbox: tuple[float, float, float, float] = (30.6, 120.8, 31.9, 122.2)
    #: Rate limits (rate_limits.py; ``limits`` notation, e.g. "120/minute"). Open311: per client address
    #: within an app's key (per address without a key).
    open311_rate_limit: str = "120/minute"
    #: Failed logins per client address, across usernames.
    login_rate_limit: str = "20/minute"
    #: Per username (accounts/throttle.py): failures before the backoff starts, its first wait and its cap.
    login_backoff_free_failures: int = Field(default=3, ge=1)
    login_backoff_base_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=300.0, gt=0)
    #: Every authenticated call, per principal (failed authentications count per client address).
    api_rate_limit: str = "6000/minute"
    #: How long an API key, once looked up, is believed without asking the database again (accounts/key_cache.py):
    #: a key revoked or an account deactivated in the database stops working within this many seconds. 0: every
    #: request looks its key up.
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    #: Proxies (addresses or CIDR networks, e.g. ["10.0.0.0/8"]) whose X-Forwarded-For names the client;
    #: from anyone else the header is ignored. Empty: the TCP peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: The citizen's one-time callback link (no account): per client, so tokens cannot be guessed at speed.
    callback_link_rate_limit: str = "30/minute"
    #: Largest request body accepted anywhere (bytes); a description of 4,000 Chinese characters is ~12 KB.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    #: How often an anchor (trail/anchors.py) pins the heads of the tickets whose trail grew.
    trail_anchor_seconds: float = Field(default=300, gt=0)

    #: The personal-data vault (libs/common personal/vault_keys.py): the key new rows are sealed with and its
    #: id, older keys still readable (JSON {"id": "secret"}, during a rotation: vault/rotation.py), the phone
    #: blind index's key.
    vault_key: str = Field(default=DEV_VAULT_KEY, min_length=32)
    vault_key_id: str = Field(default=DEV_VAULT_KEY_ID, min_length=1, max_length=64)
    vault_previous_keys: dict[str, str] = Field(default_factory=dict)
    vault_index_key: str = Field(default=DEV_VAULT_INDEX_KEY, min_length=32)
    #: Personal data is erased this long after a ticket closes (vault/retention.py), checked this often.
    personal_data_retention_days: float = Field(default=365, gt=0)
    retention_interval_seconds: float = Field(default=3600, gt=0)

    def keyring(self) -> Keyring:
        return Keyring.from_secrets(
            key_id=self.vault_key_id,
            key=self.vault_key,
            index_key=self.vault_index_key,
            previous=self.vault_previous_keys,
        )

    @property
    def demo_enabled(self) -> bool:
        return self.environment != "production" if self.demo_accounts is None else self.demo_accounts

    @model_validator(mode="after")
    def _safe_in_production(self) -> "IntakeSettings":
        if self.environment == "production":
            if self.jwt_secret.startswith("dev-only"):
                raise ValueError("CITYLOOP_INTAKE_JWT_SECRET must be set in production")
            if self.demo_accounts:
                raise ValueError("demo accounts are for development and test only")
            if self.vault_key.startswith("dev-only") or self.vault_index_key.startswith("dev-only"):
                raise ValueError(
                    "CITYLOOP_INTAKE_VAULT_KEY and CITYLOOP_INTAKE_VAULT_INDEX_KEY must be set in production"
                )
            if any(secret.startswith("dev-only") for secret in self.vault_previous_keys.values()):
                raise ValueError("CITYLOOP_INTAKE_VAULT_PREVIOUS_KEYS: the development key has no place in production")
        self.keyring()  # a key that cannot be used fails at start, not at the first ticket
        return self
