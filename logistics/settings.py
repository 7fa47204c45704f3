"""Logistics settings, read from `LOGISTICS_*` environment variables (and `.env`)."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogisticsSettings(BaseSettings):
    """Packing, reservation, routing and pipeline knobs of the cut-off."""

    model_config = SettingsConfigDict(
        env_prefix="LOGISTICS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    fill_factor: float = Field(
        default=0.85, gt=0, le=1, description="Share of a compartment's inner volume usable"
    )
    solver_time_limit_s: float = Field(
        default=20.0, gt=0, description="Routing search budget of the cut-off (seconds)"
    )
    solver_workers: int | None = Field(
        default=1,
        ge=1,
        description=(
            "Parallel searches; None: the solver's default (one per core, at most 2). One keeps "
            "the cut-off within its budget on a small machine (see docs/benchmarks-cutoff.md)"
        ),
    )
    replan_time_limit_s: float = Field(default=5.0, gt=0, description="Search budget of a re-plan")
    travel_source: Literal["great_circle", "osrm"] = "great_circle"
    osrm_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:5000")
    speed_kmh: float = Field(default=25.0, gt=0, description="City driving speed (great-circle)")
    detour_factor: float = Field(default=1.3, ge=1, description="Road / great-circle distance")
    service_fixed_s: int = Field(default=180, ge=0, description="Time at a stop, fixed part")
    service_per_parcel_s: int = Field(default=20, ge=0, description="Time at a stop per parcel")
    packing_minutes: int = Field(
        default=60, ge=0, description="Physical packing and loading after the pack step"
    )
    cold_chain_minutes: int = Field(
        default=180,
        gt=0,
        description=(
            "Refrigerated van's cold-chain limit: minutes from leaving the depot to the last "
            "chilled or frozen deposit (not a product's max_minutes_out, which is time OUT of "
            "temperature)"
        ),
    )
    driving_cost_per_hour_minor: int = Field(
        default=6000, gt=0, description="Converts a van's fixed cost (money) into driving seconds"
    )
    batch_size: int = Field(default=2000, gt=0, description="Rows per committed batch")
    lease_seconds: int = Field(
        default=900, gt=0, description="A running pipeline's claim expires after this (crash)"
    )

    @model_validator(mode="after")
    def _osrm_needs_url(self) -> "LogisticsSettings":
        if self.travel_source == "osrm" and not self.osrm_url:
            raise ValueError("LOGISTICS_OSRM_URL is required when LOGISTICS_TRAVEL_SOURCE=osrm")
        return self


@lru_cache
def get_logistics_settings() -> LogisticsSettings:
    """The process-wide logistics settings, read once."""
    return LogisticsSettings()
