"""Neighborhood group buys: price tiers by total quantity, a minimum to form, a stock cap."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base


class GroupBuyStatus(StrEnum):
    OPEN = "open"
    FORMED = "formed"
    FAILED = "failed"


class GroupBuy(Base):
    __tablename__ = "group_buys"
    __table_args__ = (
        UniqueConstraint("neighborhood_id", "window_id", "product_id"),
        CheckConstraint("ordered_quantity >= 0", name="ordered_not_negative"),
        CheckConstraint(
            "stock_cap IS NULL OR ordered_quantity <= stock_cap", name="ordered_within_cap"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    neighborhood_id: Mapped[int] = mapped_column(ForeignKey("neighborhoods.id"), index=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("delivery_windows.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    min_quantity: Mapped[int]
    stock_cap: Mapped[int | None]
    ordered_quantity: Mapped[int] = mapped_column(default=0)
    status: Mapped[GroupBuyStatus] = mapped_column(
        Enum(GroupBuyStatus, native_enum=False, length=16), default=GroupBuyStatus.OPEN
    )
    final_unit_price_minor: Mapped[int | None]
    share_token: Mapped[str] = mapped_column(String(32), unique=True)
    finalized_at: Mapped[datetime | None]
    # Moves on every UPDATE of the row (ORM or Core), so the residents' catalog can tell its
    # cached copy is stale; a change of tiers alone moves it by hand (see `service.update`).
    revision: Mapped[int] = mapped_column(
        default=0, server_default="0", onupdate=literal_column("group_buys.revision", Integer) + 1
    )
    tiers: Mapped[list["PriceTier"]] = relationship(
        back_populates="group_buy", order_by="PriceTier.min_quantity", cascade="all, delete-orphan"
    )


class PriceTier(Base):
    """From `min_quantity` units in total, every unit costs `unit_price_minor`."""

    __tablename__ = "price_tiers"
    __table_args__ = (UniqueConstraint("group_buy_id", "min_quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_buy_id: Mapped[int] = mapped_column(ForeignKey("group_buys.id"), index=True)
    min_quantity: Mapped[int]
    unit_price_minor: Mapped[int]
    group_buy: Mapped[GroupBuy] = relationship(back_populates="tiers")


class GroupBuySetRevision(Base):
    """Moves when a group buy of the neighborhood and window is created or deleted.

    No foreign keys: a counter must not keep a neighborhood or window from being deleted.
    """

    __tablename__ = "group_buy_set_revisions"

    neighborhood_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    window_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    revision: Mapped[int]
