"""Delivery-window schemas: every instant in UTC and in the city's own zone."""

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from app.cities.schemas import InputModel, PatchModel
from app.core.limits import SaneDate, SaneDatetime
from app.core.pagination import PageQuery
from app.windows.models import DeliveryWindow, WindowStatus

MAX_GENERATE_DAYS = 62


class WindowRead(BaseModel):
    """A delivery window; `*_local` are the same instants in the city's time zone."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "city_id": 1,
                    "local_date": "2026-11-24",
                    "slot_name": "morning",
                    "status": "open",
                    "timezone": "Asia/Shanghai",
                    "cutoff_at": "2026-11-23T22:00:00Z",
                    "cutoff_at_local": "2026-11-24T06:00:00+08:00",
                    "ready_by": "2026-11-24T03:00:00Z",
                    "ready_by_local": "2026-11-24T11:00:00+08:00",
                    "pickup_deadline": "2026-11-24T15:00:00Z",
                    "pickup_deadline_local": "2026-11-24T23:00:00+08:00",
                    "closed_at": None,
                    "closed_at_local": None,
                }
            ]
        }
    )

    id: int
    city_id: int
    local_date: dt.date
    slot_name: str
    status: WindowStatus
    timezone: str
    cutoff_at: dt.datetime
    cutoff_at_local: dt.datetime
    ready_by: dt.datetime
    ready_by_local: dt.datetime
    pickup_deadline: dt.datetime
    pickup_deadline_local: dt.datetime
    closed_at: dt.datetime | None
    closed_at_local: dt.datetime | None

    @classmethod
    def from_window(cls, window: DeliveryWindow, timezone: str) -> "WindowRead":
        """The window shown in UTC and in `timezone` (the city's)."""
        tz = ZoneInfo(timezone)
        return cls(
            id=window.id,
            city_id=window.city_id,
            local_date=window.local_date,
            slot_name=window.slot_name,
            status=window.status,
            timezone=timezone,
            cutoff_at=window.cutoff_at,
            cutoff_at_local=window.cutoff_at.astimezone(tz),
            ready_by=window.ready_by,
            ready_by_local=window.ready_by.astimezone(tz),
            pickup_deadline=window.pickup_deadline,
            pickup_deadline_local=window.pickup_deadline.astimezone(tz),
            closed_at=window.closed_at,
            closed_at_local=window.closed_at.astimezone(tz) if window.closed_at else None,
        )


class WindowQuery(PageQuery):
    date: SaneDate | None = Field(None, description="Local date of the window")
    date_from: SaneDate | None = Field(None, description="Local date, inclusive")
    date_to: SaneDate | None = Field(None, description="Local date, inclusive")
    status: WindowStatus | None = None


class WindowGenerate(InputModel):
    """Generate windows from the city's schedule for `days` local dates from `start`.

    Idempotent: windows that exist are left alone; windows whose cut-off has already passed are
    not created."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"start": "2026-11-24", "days": 7}]})

    start: SaneDate | None = Field(None, description="First local date; default today there")
    days: int = Field(3, ge=1, le=MAX_GENERATE_DAYS, strict=True)


class GenerateResult(BaseModel):
    created: list[WindowRead]
    skipped: int = Field(description="Already existed, or their cut-off had passed")


class WindowUpdate(PatchModel):
    """Move an open window's instants (any UTC offset; stored in UTC).

    Must keep cutoff_at < ready_by < pickup_deadline; a new cut-off must be in the future."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"cutoff_at": "2026-11-24T06:30:00+08:00"}]}
    )

    cutoff_at: SaneDatetime | None = None
    ready_by: SaneDatetime | None = None
    pickup_deadline: SaneDatetime | None = None
