"""One settings object, read from the environment and an optional `.env` file."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.forwarded import parse_networks
from app.core.timezones import check_timezone

DEV_SECRET = "dev-only-secret-change-me-in-production"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./pickup.db"
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Requests served at once per API process, each with its own connection",
    )
    database_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request waits this long for a connection, then 503"
    )
    secret_key: str = DEV_SECRET
    access_token_minutes: int = 12 * 60

    city_timezone: str = "Asia/Shanghai"
    public_base_url: str = "http://127.0.0.1:8000"

    mqtt_url: str = Field(
        default="embedded://", description="mqtt://user:pass@host:port or embedded://"
    )
    celery_broker_url: str = Field(
        default="memory://", description="redis://..., amqp://... or memory://"
    )
    celery_result_backend: str | None = None

    sms_provider: Literal["console", "twilio"] = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str | None = Field(
        default=None, description="Override of api.twilio.com (tests)"
    )
    sms_console_phones: str = Field(
        default="",
        description=(
            "Console SMS printed in full: comma-separated phones, or * for all (login codes "
            "always are; the rest is summed up in one line per burst)"
        ),
    )

    login_code_ttl_seconds: int = 300
    login_code_max_attempts: int = Field(
        default=5, ge=1, description="Wrong tries that burn an issued code"
    )
    rate_limit_per_phone_per_hour: int = Field(
        default=5, description="Login codes one address may request for one phone per hour"
    )
    rate_limit_codes_per_phone_per_hour: int = Field(
        default=15, description="Login codes a phone may be sent per hour, from all addresses"
    )
    rate_limit_per_ip_per_hour: int = 60
    login_backoff_free_failures: int = Field(
        default=5, ge=1, description="Failed logins of an address or username before backoff"
    )
    login_backoff_base_seconds: int = Field(
        default=2, ge=1, description="The first backoff; it doubles with every further failure"
    )
    login_backoff_max_seconds: int = Field(default=15 * 60, ge=1, description="Backoff ceiling")
    login_backoff_forget_seconds: int = Field(
        default=60 * 60, ge=1, description="Failures older than this are forgotten"
    )
    auth_sms_allowed_countries: str | None = Field(
        default=None,
        description=(
            "Countries login codes may be texted to: ISO 3166 alpha-2 codes, comma-separated, "
            "or * for any; default: the countries of the cities served"
        ),
    )
    trusted_proxies: str = Field(
        default="",
        description=(
            "Addresses or CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers "
            "are believed, comma-separated; default none (the peer is the client)"
        ),
    )
    max_request_bytes: int = 64 * 1024

    clockwork_tick_seconds: float = Field(
        default=30.0, gt=0, description="Between clockwork ticks (simulated seconds in-process)"
    )
    clockwork_days_ahead: int = Field(
        default=2, ge=1, le=14, description="Local days of delivery windows kept generated"
    )
    clockwork_cutoff_retry_seconds: float = Field(
        default=600.0, gt=0, description="Before a failed or unclaimed cut-off is launched again"
    )

    def public_url(self, request_base_url: str | None = None) -> str:
        """The address links point to: PUBLIC_BASE_URL when configured (`pickup serve` and
        `pickup demo` set it from the address they bind), else the request's own base URL."""
        if request_base_url and "public_base_url" not in self.model_fields_set:
            return request_base_url.rstrip("/")
        return self.public_base_url.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("city_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> "Settings":
        if self.environment != "production":
            return self
        if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
            raise ValueError(
                "SECRET_KEY must be set to a random value of 32+ characters in production"
            )
        if self.sms_provider == "twilio" and not (
            self.twilio_account_sid and self.twilio_auth_token
        ):
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required for Twilio")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
