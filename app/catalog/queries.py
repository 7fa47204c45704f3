"""Reading products for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product


@dataclass(frozen=True)
class ProductLabel:
    """What lists show of a product (`temperature_class` as its string value)."""

    id: int
    sku: str
    name: str
    name_zh: str
    unit: str
    temperature_class: str


def product_labels(db_session: Session, product_ids: Collection[int]) -> dict[int, ProductLabel]:
    """The sku, names, unit and temperature class of these products (those that exist), by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.name_zh,
            Product.unit,
            Product.temperature_class,
        ).where(Product.id.in_(product_ids))
    )
    return {
        p_id: ProductLabel(p_id, sku, name, name_zh, unit, str(tc))
        for p_id, sku, name, name_zh, unit, tc in rows
    }
