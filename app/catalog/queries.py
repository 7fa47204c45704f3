"""Reads of the catalog for other packages: plain values, never the model."""

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.enums import TemperatureClass


def product_names(db_session: Session, product_ids: Collection[int]) -> dict[int, str]:
    """Each product's name, by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(
        select(Product.id, Product.name).where(Product.id.in_(set(product_ids)))
    )
    return {product_id: name for product_id, name in rows}


@dataclass(frozen=True)
class ProductCard:
    """A product as a group buy shows and checks it."""

    id: int
    city_id: int
    name: str
    name_zh: str
    unit: str
    temperature_class: TemperatureClass
    price_minor: int
    active: bool


def product_card_query() -> Select[int, int, str, str, str, TemperatureClass, int, bool]:
    """Every product's card columns, in `ProductCard`'s order, to read along with other tables."""
    return select(
        Product.id,
        Product.city_id,
        Product.name,
        Product.name_zh,
        Product.unit,
        Product.temperature_class,
        Product.price_minor,
        Product.active,
    )


def product_cards(db_session: Session, product_ids: Collection[int]) -> dict[int, ProductCard]:
    """Each product's card, by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(product_card_query().where(Product.id.in_(set(product_ids))))
    return {row[0]: ProductCard(*row) for row in rows}


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


@dataclass(frozen=True)
class ProductName:
    """A product's name, in English and Chinese (empty when it has none)."""

    id: int
    name: str
    name_zh: str


def bilingual_product_names(
    db_session: Session, product_ids: Collection[int]
) -> dict[int, ProductName]:
    """The products with these ids, by id."""
    if not product_ids:
        return {}
    rows = db_session.execute(
        select(Product.id, Product.name, Product.name_zh).where(Product.id.in_(set(product_ids)))
    )
    return {row[0]: ProductName(*row) for row in rows}


def product_revision_query() -> Select[int, int]:
    """Every product's id and revision (moves on each change), to read along with other tables."""
    return select(Product.id, Product.revision)


def product_packing_query() -> Select[int, TemperatureClass, int, int]:
    """Every product's id, temperature class, packed volume (ml) and weight (g), to read along
    with other tables."""
    return select(Product.id, Product.temperature_class, Product.packed_volume_ml, Product.weight_g)
