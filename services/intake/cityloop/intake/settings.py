from typing import ClassVar

from pydantic import Field, model_validator
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
    #: Per-client limits on the public endpoints (``limits`` notation, e.g. "120/minute").
    open311_rate_limit: str = "120/minute"
    login_rate_limit: str = "20/minute"
    #: The citizen's one-time callback link (no account): per client, so tokens cannot be guessed at speed.
    callback_link_rate_limit: str = "30/minute"
    #: Largest request body accepted anywhere (bytes); a description of 4,000 Chinese characters is ~12 KB.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)

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
        return self
