"""Reads of the product catalog for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product


@dataclass(frozen=True)
class ProductName:
    """A product's name, in English and Chinese (empty when it has none)."""

    id: int
    name: str
    name_zh: str


def product_names(db_session: Session, product_ids: Collection[int]) -> dict[int, ProductName]:
    """The products with these ids, by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(
        select(Product.id, Product.name, Product.name_zh).where(Product.id.in_(set(product_ids)))
    )
    return {row[0]: ProductName(*row) for row in rows}
