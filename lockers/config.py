"""Settings of the locker side, read from `LOCKERS_*` environment variables.

The MQTT broker address itself is the project-wide `MQTT_URL` (app.core.settings).
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LockerSettings(BaseSettings):
    """Timeouts, limits and policies of the locker bridge and flows."""

    model_config = SettingsConfigDict(
        env_prefix="LOCKERS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    topic_prefix: str = Field(
        default="lockers", description="Topic prefix: one or more levels, no wildcards"
    )
    public_broker_url: str | None = Field(
        default=None,
        description="The broker as lockers reach it, e.g. mqtts://mqtt.example.org:8883 "
        "(handed out at provisioning; default MQTT_URL)",
    )
    ca_cert: str | None = Field(
        default=None, description="PEM of the CA that signed the broker's certificate (yours)"
    )
    ca_dir: str = Field(
        default="var/lockers-ca",
        description="Where the project CA is made if LOCKERS_CA_CERT is unset",
    )
    password_file: str | None = Field(
        default=None,
        description="The broker's password file; provisioning adds or replaces the bank's login",
    )
    embedded_host: str = "127.0.0.1"
    embedded_port: int = Field(default=11883, description="Port of the embedded amqtt broker")
    bridge_client_id: str = "pickup-bridge"
    mqtt_keepalive_seconds: int = 30

    heartbeat_seconds: int = Field(default=30, description="A locker republishes its state")
    offline_after_seconds: float = Field(
        default=90, description="No message for this long: the bank counts as offline"
    )

    poll_interval_seconds: float = Field(
        default=0.05, description="How often the bridge looks for due commands without a wake-up"
    )
    tick_seconds: float = Field(default=1.0, description="Heartbeat/cold-chain check interval")
    housekeeping_seconds: float = Field(
        default=30, description="Expiry and reservation intake interval"
    )
    command_qos: int = Field(
        default=0,
        ge=0,
        le=1,
        description=(
            "QoS of published commands. Delivery is proven by the locker's ack and the outbox "
            "re-sends, so 0 suffices; 1 also lets the broker queue commands for offline banks"
        ),
    )
    command_resend_seconds: float = 5.0
    command_resend_max_seconds: float = 60.0
    open_command_ttl_seconds: int = 120
    config_command_ttl_seconds: int = 24 * 3600
    clock_grace_seconds: float = Field(
        default=5, description="The server gives up on a command this long after its expiry"
    )

    event_gap_grace_seconds: float = Field(
        default=5.0, description="A gap in a bank's event numbers this old triggers a replay"
    )
    replay_command_ttl_seconds: int = 60

    extension_hours: int = Field(default=24, description="One extension adds this many hours")
    keypad_max_attempts: int = 5
    keypad_lockout_seconds: int = 15 * 60
    pbkdf2_iterations: int = Field(default=10_000, description="Locker-side code hash cost")

    chilled_max_c: float = 5.0
    frozen_max_c: float = -15.0
    cold_chain_alarm_seconds: float = Field(
        default=15 * 60, description="A zone above its limit this long raises an alarm"
    )


@lru_cache
def get_locker_settings() -> LockerSettings:
    """The process-wide locker settings, read once."""
    return LockerSettings()
