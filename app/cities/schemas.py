"""City, depot and window-slot schemas, and the small shared pieces the static-data APIs reuse
(input models that refuse unknown fields, PATCH models that refuse nulls, paginated pages)."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.core.limits import CountryCode, CurrencyCode, LocalTime, SafeName, SafeStr
from app.core.pagination import PageQuery
from app.core.timezones import check_timezone

Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude in degrees")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude in degrees")]
Name = Annotated[SafeName, Field(min_length=1, max_length=120)]
Address = Annotated[SafeName, Field(max_length=255)]
SlotName = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$", examples=["morning"])
]


class InputModel(BaseModel):
    """A request body: unknown fields are refused (a typo is an error, not a silent no-op)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PatchModel(InputModel):
    """A PATCH body: fields left out stay as they are; an explicit null is refused."""

    @field_validator("*", mode="after")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise ValueError(f"{info.field_name} may be left out but not set to null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, with their values."""
        return self.model_dump(exclude_unset=True)


class DepotCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Minhang Cold Store",
                    "address": "88 Jianchuan Rd",
                    "lat": 31.02,
                    "lon": 121.43,
                }
            ]
        }
    )

    name: Name
    address: Address = ""
    lat: Latitude
    lon: Longitude


class DepotUpdate(PatchModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"address": "90 Jianchuan Rd"}]})

    name: Name | None = None
    address: Address | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None


class DepotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    city_id: int
    name: str
    address: str
    lat: float
    lon: float


class WindowSlotCreate(InputModel):
    """A daily window: ready in the lockers by `ready_by_local` (city wall-clock time)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "morning",
                    "ready_by_local": "11:00",
                    "cutoff_hours_before": 5,
                    "pickup_hours_after": 12,
                }
            ]
        }
    )

    name: SlotName
    ready_by_local: LocalTime = Field(description="Local wall-clock time, e.g. 11:00")
    cutoff_hours_before: int = Field(
        ge=1, le=72, strict=True, description="Orders close this many wall-clock hours before"
    )
    pickup_hours_after: int = Field(
        ge=1, le=168, strict=True, description="Parcels wait this many wall-clock hours after"
    )


class WindowSlotUpdate(PatchModel):
    """Change a slot; windows already generated keep their times (PATCH them one by one)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"cutoff_hours_before": 6}]})

    name: SlotName | None = None
    ready_by_local: LocalTime | None = None
    cutoff_hours_before: int | None = Field(None, ge=1, le=72, strict=True)
    pickup_hours_after: int | None = Field(None, ge=1, le=168, strict=True)


class WindowSlotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    city_id: int
    name: str
    ready_by_local: LocalTime
    cutoff_hours_before: int
    pickup_hours_after: int


class CityCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Shanghai",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "country_code": "CN",
                    "depots": [{"name": "Minhang Cold Store", "lat": 31.02, "lon": 121.43}],
                    "window_slots": [
                        {
                            "name": "morning",
                            "ready_by_local": "11:00",
                            "cutoff_hours_before": 5,
                            "pickup_hours_after": 12,
                        },
                        {
                            "name": "evening",
                            "ready_by_local": "18:00",
                            "cutoff_hours_before": 5,
                            "pickup_hours_after": 16,
                        },
                    ],
                }
            ]
        }
    )

    name: Name
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. Asia/Shanghai")
    currency: CurrencyCode
    country_code: CountryCode
    depots: list[DepotCreate] = Field(default_factory=list, max_length=20)
    window_slots: list[WindowSlotCreate] = Field(default_factory=list, max_length=12)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("window_slots")
    @classmethod
    def _distinct_slots(cls, slots: list[WindowSlotCreate]) -> list[WindowSlotCreate]:
        names = [slot.name for slot in slots]
        if len(set(names)) != len(names):
            raise ValueError("slot names must be distinct")
        return slots


class CityUpdate(PatchModel):
    """Rename a city or correct its zone; existing windows keep their UTC instants.

    The currency cannot change once prices exist in it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Shanghai Pudong"}]})

    name: Name | None = None
    timezone: str | None = Field(None, max_length=64)
    country_code: CountryCode | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class CityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    timezone: str
    currency: str
    country_code: str


class CityDetail(CityRead):
    """A city with its depots and daily window schedule."""

    depots: list[DepotRead]
    window_slots: list[WindowSlotRead]


class CityQuery(PageQuery):
    q: SafeStr | None = Field(None, max_length=120, description="Part of the name")
