"""Reads of the catalog for other packages: plain values, never the model."""

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product


def product_names(db_session: Session, product_ids: Collection[int]) -> dict[int, str]:
    """Each product's name, by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(
        select(Product.id, Product.name).where(Product.id.in_(set(product_ids)))
    )
    return {product_id: name for product_id, name in rows}
