"""Neighborhood, locker bank and compartment schemas (operator side of the static data)."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.cities.schemas import (
    Address,
    InputModel,
    Latitude,
    Longitude,
    Name,
    PatchModel,
)
from app.core.enums import CompartmentSize, TemperatureClass
from app.core.limits import DbId
from app.core.pagination import PageQuery
from app.neighborhoods.models import CompartmentStatus

BankCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Z0-9][A-Z0-9-]*$",
        description="Upper-case letters, digits and dashes; unique across all cities",
        examples=["SH-001"],
    ),
]
MAX_COMPARTMENTS_PER_REQUEST = 500


class NeighborhoodCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Jing'an Garden",
                    "address": "1200 Yan'an Middle Rd",
                    "lat": 31.2296,
                    "lon": 121.4453,
                }
            ]
        }
    )

    name: Name
    address: Address = ""
    lat: Latitude
    lon: Longitude
    active: bool = True


class NeighborhoodUpdate(PatchModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"active": False}]})

    name: Name | None = None
    address: Address | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    active: bool | None = None


class NeighborhoodRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    city_id: int
    name: str
    address: str
    lat: float
    lon: float
    active: bool


class NeighborhoodQuery(PageQuery):
    active: bool | None = None
    q: str | None = Field(None, max_length=120, description="Part of the name")


class LockerBankCreate(InputModel):
    """A locker bank; its position defaults to the neighborhood's."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"code": "SH-001", "name": "Jing'an Garden gate 2", "lat": 31.2297}]
        }
    )

    code: BankCode
    name: Name
    address: Address = ""
    lat: Latitude | None = None
    lon: Longitude | None = None


class LockerBankUpdate(PatchModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Gate 3"}]})

    code: BankCode | None = None
    name: Name | None = None
    address: Address | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    neighborhood_id: DbId | None = Field(None, description="Move to another neighborhood")


class LockerBankRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    neighborhood_id: int
    code: str
    name: str
    address: str
    lat: float
    lon: float


class LockerBankQuery(PageQuery):
    neighborhood_id: DbId | None = None
    q: str | None = Field(None, max_length=120, description="Part of the code or name")


class CompartmentGroup(InputModel):
    """`count` compartments of one size in one temperature zone."""

    zone: TemperatureClass
    size: CompartmentSize
    count: int = Field(ge=1, le=MAX_COMPARTMENTS_PER_REQUEST, strict=True)
    inner_volume_ml: int | None = Field(
        None,
        ge=1_000,
        le=1_000_000,
        strict=True,
        description="Default by size: S 20 l, M 45 l, L 90 l",
    )


class CompartmentBulkCreate(InputModel):
    """Compartments to add to a bank, labelled per zone (A01.. ambient, C01.. chilled, F01..)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "groups": [
                        {"zone": "ambient", "size": "M", "count": 16},
                        {"zone": "chilled", "size": "S", "count": 8},
                        {"zone": "frozen", "size": "L", "count": 4, "inner_volume_ml": 80000},
                    ]
                }
            ]
        }
    )

    groups: list[CompartmentGroup] = Field(min_length=1, max_length=30)

    @field_validator("groups")
    @classmethod
    def _not_too_many(cls, groups: list[CompartmentGroup]) -> list[CompartmentGroup]:
        total = sum(g.count for g in groups)
        if total > MAX_COMPARTMENTS_PER_REQUEST:
            raise ValueError(
                f"{total} compartments in one request; at most {MAX_COMPARTMENTS_PER_REQUEST}"
            )
        return groups


class CompartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    bank_id: int
    label: str
    size: CompartmentSize
    zone: TemperatureClass
    inner_volume_ml: int
    status: CompartmentStatus


class CompartmentQuery(PageQuery):
    limit: int = Field(100, ge=1, le=500, description="Items per page")
    zone: TemperatureClass | None = None
    size: CompartmentSize | None = None
    status: CompartmentStatus | None = None
