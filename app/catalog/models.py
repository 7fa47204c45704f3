"""Products sold in a city."""

from sqlalchemy import Enum, ForeignKey, Integer, String, UniqueConstraint, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.enums import TemperatureClass


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("city_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    unit: Mapped[str] = mapped_column(String(20))
    price_minor: Mapped[int]
    temperature_class: Mapped[TemperatureClass] = mapped_column(
        Enum(TemperatureClass, native_enum=False, length=16)
    )
    packed_volume_ml: Mapped[int]
    weight_g: Mapped[int]
    max_minutes_out: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    # Moves on every UPDATE of the row, so caches of what shows the product can tell they are stale.
    revision: Mapped[int] = mapped_column(
        default=0, server_default="0", onupdate=literal_column("products.revision", Integer) + 1
    )
