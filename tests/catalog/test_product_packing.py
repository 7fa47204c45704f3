"""The products' packing figures, as a query other packages join."""

from sqlalchemy.orm import Session

from app.catalog import queries as catalog_queries
from app.core.enums import TemperatureClass
from tests.factories import Factory


def test_product_packing_query_gives_class_volume_and_weight(db: Session, make: Factory) -> None:
    product = make.product(
        temperature_class=TemperatureClass.FROZEN, packed_volume_ml=2500, weight_g=900
    )
    packing = catalog_queries.product_packing_query().subquery()
    row = db.execute(packing.select().where(packing.c.id == product.id)).one()
    assert tuple(row) == (product.id, TemperatureClass.FROZEN, 2500, 900)
