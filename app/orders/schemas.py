"""Order schemas: what a resident sends to order, and what they read back."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.orders.models import LineStatus, OrderStatus

MAX_LINES = 50
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
MAX_LINE_QUANTITY = 100


class OrderLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_buy_id: int = Field(strict=True, gt=0, le=MAX_ID, examples=[31])
    quantity: int = Field(
        strict=True,
        gt=0,
        le=MAX_LINE_QUANTITY,
        examples=[2],
        description=f"Units of the group buy's product, 1 to {MAX_LINE_QUANTITY}",
    )


class OrderCreate(BaseModel):
    """Lines in group buys of the resident's neighborhood, all for one delivery window."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "window_id": 12,
                    "lines": [
                        {"group_buy_id": 31, "quantity": 2},
                        {"group_buy_id": 34, "quantity": 1},
                    ],
                }
            ]
        },
    )

    window_id: int = Field(strict=True, gt=0, le=MAX_ID)
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=MAX_LINES)


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    group_buy_id: int
    product_id: int
    product_name: str
    quantity: int
    paid_unit_price_minor: int = Field(description="Entry price paid when ordering")
    final_unit_price_minor: int | None = Field(description="Tier price, set at the cut-off")
    status: LineStatus


class OrderRead(BaseModel):
    """An order with its lines and money: paid at placement, charged at the cut-off."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 501,
                    "window_id": 12,
                    "neighborhood_id": 4,
                    "status": "placed",
                    "currency": "CNY",
                    "paid_minor": 3600,
                    "paid_display": "¥36.00",
                    "charged_minor": None,
                    "charged_display": None,
                    "created_at": "2026-11-23T09:15:02Z",
                    "lines": [
                        {
                            "id": 900,
                            "group_buy_id": 31,
                            "product_id": 7,
                            "product_name": "Strawberries",
                            "quantity": 3,
                            "paid_unit_price_minor": 1200,
                            "final_unit_price_minor": None,
                            "status": "placed",
                        }
                    ],
                }
            ]
        },
    )

    id: int
    window_id: int
    neighborhood_id: int
    status: OrderStatus
    currency: str
    paid_minor: int
    paid_display: str
    charged_minor: int | None
    charged_display: str | None
    created_at: datetime
    lines: list[OrderLineRead]


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int
    limit: int
    offset: int
