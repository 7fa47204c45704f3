"""Product schemas for operators (the resident catalog view lives with the group buys)."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.cities.schemas import InputModel, Name, PatchModel
from app.core.enums import TemperatureClass
from app.core.pagination import PageQuery

Sku = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Stock-keeping unit, unique within the city",
        examples=["VEG-BOKCHOY-500"],
    ),
]
Unit = Annotated[str, Field(min_length=1, max_length=20, examples=["500 g"])]
PriceMinor = Annotated[
    int,
    Field(
        gt=0,
        le=100_000_000,
        strict=True,
        description="Price per unit in minor units of the city's currency (fen for CNY)",
    ),
]
VolumeMl = Annotated[
    int, Field(gt=0, le=500_000, strict=True, description="Packed volume in millilitres")
]
WeightG = Annotated[int, Field(gt=0, le=50_000, strict=True, description="Packed weight in grams")]
MinutesOut = Annotated[
    int,
    Field(
        gt=0,
        le=7 * 24 * 60,
        strict=True,
        description="How long it may stay outside its temperature class, in minutes",
    ),
]


class ProductCreate(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "VEG-BOKCHOY-500",
                    "name": "Bok choy",
                    "name_zh": "上海青",
                    "unit": "500 g",
                    "price_minor": 590,
                    "temperature_class": "chilled",
                    "packed_volume_ml": 2500,
                    "weight_g": 520,
                    "max_minutes_out": 120,
                }
            ]
        }
    )

    sku: Sku
    name: Name
    name_zh: str = Field("", max_length=120)
    unit: Unit
    price_minor: PriceMinor
    temperature_class: TemperatureClass
    packed_volume_ml: VolumeMl
    weight_g: WeightG
    max_minutes_out: MinutesOut
    active: bool = True


class ProductUpdate(PatchModel):
    """Change a product; group buys already open keep their own tier prices."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"price_minor": 650}]})

    sku: Sku | None = None
    name: Name | None = None
    name_zh: str | None = Field(None, max_length=120)
    unit: Unit | None = None
    price_minor: PriceMinor | None = None
    temperature_class: TemperatureClass | None = None
    packed_volume_ml: VolumeMl | None = None
    weight_g: WeightG | None = None
    max_minutes_out: MinutesOut | None = None
    active: bool | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    city_id: int
    sku: str
    name: str
    name_zh: str
    unit: str
    price_minor: int
    temperature_class: TemperatureClass
    packed_volume_ml: int
    weight_g: int
    max_minutes_out: int
    active: bool


class ProductQuery(PageQuery):
    temperature_class: TemperatureClass | None = None
    active: bool | None = None
    q: str | None = Field(None, max_length=120, description="Part of the SKU or of a name")
