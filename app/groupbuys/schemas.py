"""Group-buy schemas: operator management, the resident catalog, share links, window closing."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.core.enums import TemperatureClass
from app.groupbuys.models import GroupBuyStatus
from app.groupbuys.pricing import MAX_TIERS, MAX_UNIT_PRICE_MINOR
from app.windows.queries import WindowStatus

MAX_QUANTITY = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
StrictId = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]


class TierIn(BaseModel):
    """From `min_quantity` units in total, every unit costs `unit_price_minor`."""

    model_config = ConfigDict(extra="forbid")

    min_quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY, examples=[10])
    unit_price_minor: int = Field(strict=True, ge=1, le=MAX_UNIT_PRICE_MINOR, examples=[990])


class TierRead(BaseModel):
    min_quantity: int
    unit_price_minor: int
    unit_price_display: str


_TIERS_EXAMPLE: list[JsonValue] = [
    {"min_quantity": 1, "unit_price_minor": 1200},
    {"min_quantity": 10, "unit_price_minor": 990},
    {"min_quantity": 20, "unit_price_minor": 890},
]


class GroupBuyCreate(BaseModel):
    """A neighborhood x window x product group buy with its price tiers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "neighborhood_id": 1,
                    "window_id": 3,
                    "product_id": 7,
                    "min_quantity": 10,
                    "stock_cap": 40,
                    "tiers": _TIERS_EXAMPLE,
                }
            ]
        },
    )

    neighborhood_id: StrictId
    window_id: StrictId
    product_id: StrictId
    min_quantity: int = Field(strict=True, ge=1, le=MAX_QUANTITY)
    stock_cap: int | None = Field(default=None, strict=True, ge=1, le=MAX_QUANTITY)
    tiers: list[TierIn] = Field(min_length=1, max_length=MAX_TIERS)


class GroupBuyUpdate(BaseModel):
    """Fields an operator may change while the group buy is open (omitted ones stay)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"stock_cap": 60}, {"min_quantity": 8}]},
    )

    min_quantity: int | None = Field(default=None, strict=True, ge=1, le=MAX_QUANTITY)
    stock_cap: int | None = Field(
        default=None, strict=True, ge=1, le=MAX_QUANTITY, description="null removes the cap"
    )
    tiers: list[TierIn] | None = Field(default=None, min_length=1, max_length=MAX_TIERS)


class GroupBuyRead(BaseModel):
    """A group buy as operators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    neighborhood_id: int
    window_id: int
    product_id: int
    product_name: str
    min_quantity: int
    stock_cap: int | None
    ordered_quantity: int
    status: GroupBuyStatus
    final_unit_price_minor: int | None
    finalized_at: datetime | None
    share_token: str
    currency: str
    tiers: list[TierRead]


class GroupBuyPage(BaseModel):
    items: list[GroupBuyRead]
    total: int
    limit: int
    offset: int


class ProductBrief(BaseModel):
    id: int
    name: str
    name_zh: str
    unit: str
    temperature_class: TemperatureClass
    list_price_minor: int


class ProgressRead(BaseModel):
    """Where the group stands, e.g. '14 of 20 to unlock ¥8.90'."""

    text: str
    minimum_reached: bool
    target_quantity: int | None
    target_unit_price_minor: int | None


class CatalogGroupBuy(BaseModel):
    """One group buy in a resident's catalog: product, tiers, price now and progress."""

    id: int
    window_id: int
    status: GroupBuyStatus
    product: ProductBrief
    currency: str
    tiers: list[TierRead]
    entry_price_minor: int = Field(description="Paid when ordering; the difference is refunded")
    entry_price_display: str
    current_unit_price_minor: int = Field(description="Price at the tier reached so far")
    current_unit_price_display: str
    ordered_quantity: int
    min_quantity: int
    stock_cap: int | None
    stock_left: int | None = Field(description="null when the group buy has no cap")
    progress: ProgressRead


class CatalogWindow(BaseModel):
    """A delivery window, with times in UTC and in the city's zone."""

    id: int
    local_date: date
    slot_name: str
    status: WindowStatus
    is_open: bool
    timezone: str
    cutoff_at: datetime
    cutoff_at_local: datetime
    ready_by: datetime
    ready_by_local: datetime
    pickup_deadline: datetime
    pickup_deadline_local: datetime
    group_buys: list[CatalogGroupBuy]


class CatalogRead(BaseModel):
    """What a resident can order: their neighborhood's open windows and group buys."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "neighborhood_id": 4,
                    "neighborhood_name": "Jing'an Garden",
                    "timezone": "Asia/Shanghai",
                    "currency": "CNY",
                    "windows": [
                        {
                            "id": 12,
                            "local_date": "2026-11-24",
                            "slot_name": "morning",
                            "status": "open",
                            "is_open": True,
                            "timezone": "Asia/Shanghai",
                            "cutoff_at": "2026-11-23T22:00:00Z",
                            "cutoff_at_local": "2026-11-24T06:00:00+08:00",
                            "ready_by": "2026-11-24T03:00:00Z",
                            "ready_by_local": "2026-11-24T11:00:00+08:00",
                            "pickup_deadline": "2026-11-25T03:00:00Z",
                            "pickup_deadline_local": "2026-11-25T11:00:00+08:00",
                            "group_buys": [
                                {
                                    "id": 31,
                                    "window_id": 12,
                                    "status": "open",
                                    "product": {
                                        "id": 7,
                                        "name": "Strawberries",
                                        "name_zh": "草莓",
                                        "unit": "500 g",
                                        "temperature_class": "chilled",
                                        "list_price_minor": 1200,
                                    },
                                    "currency": "CNY",
                                    "tiers": [
                                        {
                                            "min_quantity": 1,
                                            "unit_price_minor": 1200,
                                            "unit_price_display": "¥12.00",
                                        },
                                        {
                                            "min_quantity": 20,
                                            "unit_price_minor": 890,
                                            "unit_price_display": "¥8.90",
                                        },
                                    ],
                                    "entry_price_minor": 1200,
                                    "entry_price_display": "¥12.00",
                                    "current_unit_price_minor": 1200,
                                    "current_unit_price_display": "¥12.00",
                                    "ordered_quantity": 14,
                                    "min_quantity": 10,
                                    "stock_cap": 40,
                                    "stock_left": 26,
                                    "progress": {
                                        "text": "14 of 20 to unlock ¥8.90",
                                        "minimum_reached": True,
                                        "target_quantity": 20,
                                        "target_unit_price_minor": 890,
                                    },
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    neighborhood_id: int
    neighborhood_name: str
    timezone: str
    currency: str
    windows: list[CatalogWindow]


class ShareLinkRead(BaseModel):
    """A link another resident of the same neighborhood can open."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "group_buy_id": 31,
                    "token": "9f2c4e1a7b3d5f60a1b2c3d4e5f60718",
                    "url": "http://127.0.0.1:8000/share/9f2c4e1a7b3d5f60a1b2c3d4e5f60718",
                }
            ]
        }
    )

    group_buy_id: int
    token: str
    url: str


class SharedGroupBuyRead(BaseModel):
    """A shared group buy opened from its link, with its window."""

    window: CatalogWindow


class CloseSummaryRead(BaseModel):
    """The outcome of closing a window, counted from what is stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "window_id": 12,
                    "window_status": "closed",
                    "neighborhoods": 60,
                    "neighborhoods_finalized_now": 60,
                    "group_buys_formed": 410,
                    "group_buys_failed": 35,
                    "group_buys_finalized_now": 445,
                    "orders_confirmed": 1800,
                    "orders_group_failed": 42,
                    "orders_cancelled": 12,
                    "orders_finalized_now": 1842,
                    "charged_minor": 5400000,
                    "refunded_at_close_minor": 380000,
                }
            ]
        },
    )

    window_id: int
    window_status: WindowStatus
    neighborhoods: int
    neighborhoods_finalized_now: int
    group_buys_formed: int
    group_buys_failed: int
    group_buys_finalized_now: int
    orders_confirmed: int
    orders_group_failed: int
    orders_cancelled: int
    orders_finalized_now: int
    charged_minor: int
    refunded_at_close_minor: int
