"""Products sold in a city: the operator's catalog management."""

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.catalog.schemas import ProductCreate, ProductUpdate
from app.core import pagination, persistence
from app.core.enums import TemperatureClass
from app.core.errors import Conflict, InvalidInput, NotFound


class ProductNotFound(NotFound):
    """No product of the city has this id."""

    case = "product_not_found"


class UnknownProduct(InvalidInput):
    """The `product_id` given in the body names no product of the city."""

    case = "unknown_product"


class ProductInactive(InvalidInput):
    """The product is no longer sold (active=false)."""

    case = "product_inactive"


class SkuTaken(Conflict):
    """The city has another product with this SKU."""

    case = "sku_taken"


def get(*, db_session: Session, product_id: int) -> Product | None:
    """The product with this id, if any."""
    return db_session.get(Product, product_id)


def get_required(
    *, db_session: Session, product_id: int, city_id: int | None = None, field: str = "product_id"
) -> Product:
    """The product with this id (of `city_id` if given), or ProductNotFound naming `field`."""
    product = db_session.get(Product, product_id)
    if product is None or (city_id is not None and product.city_id != city_id):
        raise ProductNotFound(f"no product with id {product_id}", field=field)
    return product


def get_by_sku(*, db_session: Session, city_id: int, sku: str) -> Product | None:
    """The city's product with this SKU, if any."""
    return db_session.scalar(select(Product).where(Product.city_id == city_id, Product.sku == sku))


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    temperature_class: TemperatureClass | None = None,
    active: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Product], int]:
    """Products by name, filtered by city, temperature class, active flag and text."""
    query = select(Product).order_by(Product.name, Product.id)
    if city_id is not None:
        query = query.where(Product.city_id == city_id)
    if temperature_class is not None:
        query = query.where(Product.temperature_class == temperature_class)
    if active is not None:
        query = query.where(Product.active == active)
    if q:
        needle = q.lower()
        query = query.where(
            or_(
                func.lower(Product.sku).contains(needle, autoescape=True),
                func.lower(Product.name).contains(needle, autoescape=True),
                Product.name_zh.contains(q, autoescape=True),
            )
        )
    return pagination.page(db_session=db_session, query=query, limit=limit, offset=offset)


def create(*, db_session: Session, city_id: int, product_in: ProductCreate) -> Product:
    """A new product of the city; its SKU must be free there."""
    fields = product_in.model_dump(exclude={"city_id"})
    if get_by_sku(db_session=db_session, city_id=city_id, sku=fields["sku"]) is not None:
        raise SkuTaken(f"the city has a product with SKU {fields['sku']!r}", field="sku")
    product = Product(city_id=city_id, **fields)
    persistence.save(
        db_session=db_session, obj=product, field="sku", reason="SKU taken", refusal=SkuTaken
    )
    return product


def update(*, db_session: Session, product: Product, product_in: ProductUpdate) -> Product:
    """Apply the given changes to a product."""
    changes = product_in.changes()
    sku = changes.get("sku", product.sku)
    if sku != product.sku and get_by_sku(db_session=db_session, city_id=product.city_id, sku=sku):
        raise SkuTaken(f"the city has a product with SKU {sku!r}", field="sku")
    persistence.apply(product, changes)
    persistence.save(
        db_session=db_session, obj=product, field="sku", reason="SKU taken", refusal=SkuTaken
    )
    return product


def delete(*, db_session: Session, product: Product) -> None:
    """Delete a product nothing refers to (else deactivate it with PATCH active=false)."""
    persistence.remove(
        db_session=db_session,
        obj=product,
        field="product_id",
        reason="group buys or orders refer to this product; set active=false instead",
    )
