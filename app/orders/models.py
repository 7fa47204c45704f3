"""A resident's order for one window, with its lines in neighborhood group buys."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, utcnow


class OrderStatus(StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    PACKED = "packed"
    OUT_FOR_DELIVERY = "out_for_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    GROUP_FAILED = "group_failed"
    EXPIRED = "expired"
    UNDELIVERED = "undelivered"


class LineStatus(StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    GROUP_FAILED = "group_failed"


class Order(Base):
    __tablename__ = "orders"
    # The parcels' one foreign key to their order names these four columns, so a parcel's
    # copies of the window, resident and neighborhood are checked against the order's in one
    # parent lookup; led by window_id, the key also serves the lookups by window.
    __table_args__ = (
        UniqueConstraint("resident_id", "idempotency_key"),
        UniqueConstraint("window_id", "id", "resident_id", "neighborhood_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"))
    neighborhood_id: Mapped[int] = mapped_column(ForeignKey("neighborhoods.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=20), default=OrderStatus.PLACED, index=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    paid_minor: Mapped[int] = mapped_column(default=0)
    charged_minor: Mapped[int | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    lines: Mapped[list["OrderLine"]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        # Also the index for lookups by order (no separate one: the close rewrites every line).
        UniqueConstraint("order_id", "group_buy_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    paid_unit_price_minor: Mapped[int]
    final_unit_price_minor: Mapped[int | None]
    status: Mapped[LineStatus] = mapped_column(
        Enum(LineStatus, native_enum=False, length=16), default=LineStatus.PLACED
    )
    order: Mapped[Order] = relationship(back_populates="lines")
