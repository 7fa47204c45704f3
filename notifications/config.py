"""This package's knobs (environment `NOTIFICATIONS_*`); Twilio credentials are app settings."""

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationsConfig(BaseSettings):
    """Timeouts, retry policy and reconciliation periods of the SMS outbox."""

    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    provider_timeout_seconds: float = Field(10.0, gt=0, description="HTTP timeout per Twilio call")
    stale_sending_seconds: float = Field(
        60.0, gt=0, description="A claim older than this is presumed dead (worker lost)"
    )
    send_batch_size: int = Field(20, ge=1, le=500, description="Messages per send task")
    send_threads: int = Field(8, ge=1, le=64, description="Parallel provider calls per worker")
    max_attempts: int = Field(8, ge=1, description="Send attempts before a message is failed")
    retry_base_seconds: float = Field(2.0, gt=0, description="First backoff; doubles per attempt")
    retry_max_seconds: float = Field(600.0, gt=0)
    requeue_after_seconds: float = Field(
        120.0, gt=0, description="Re-enqueue a queued message whose task seems lost after this"
    )
    reconcile_after_seconds: float = Field(
        600.0, gt=0, description="Ask Twilio for a message's status if no final callback by then"
    )
    reconcile_give_up_hours: float = Field(72.0, gt=0)
    event_grace_seconds: float = Field(
        600.0, gt=0, description="Longest transaction that may still commit an older event id"
    )

    @model_validator(mode="after")
    def _stale_outlives_a_call(self) -> "NotificationsConfig":
        if self.stale_sending_seconds <= self.provider_timeout_seconds:
            raise ValueError(
                "NOTIFICATIONS_STALE_SENDING_SECONDS must exceed the provider timeout, or a "
                "slow but live send could be presumed dead and sent twice"
            )
        return self


@lru_cache
def get_config() -> NotificationsConfig:
    """The process-wide notifications configuration."""
    return NotificationsConfig()
