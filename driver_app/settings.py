"""The drivers' app settings, read from `DRIVER_*` environment variables (and `.env`)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GEO_URI = "geo:{lat},{lon}?q={lat},{lon}({label})"


class DriverAppSettings(BaseSettings):
    """How the app links a stop to the phone's maps."""

    model_config = SettingsConfigDict(
        env_prefix="DRIVER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    maps_url_template: str = Field(
        default=GEO_URI,
        description=(
            "Navigation link of a stop, with {lat}, {lon} and {label} (URL-encoded); e.g. "
            "https://uri.amap.com/marker?position={lon},{lat}&name={label} for AMap"
        ),
    )


@lru_cache
def get_driver_app_settings() -> DriverAppSettings:
    """The settings, read once."""
    return DriverAppSettings()
