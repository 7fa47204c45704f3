"""Operator endpoints for the products of the operator's city (another city's ids answer 404).

The resident catalog is `GET /catalog`, with the group buys."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.deps import CurrentOperator
from app.catalog import service as product_service
from app.catalog.schemas import ProductCreate, ProductQuery, ProductRead, ProductUpdate
from app.cities import service as city_service
from app.core.db import SessionDep
from app.core.pagination import Page

router = APIRouter(prefix="/products", tags=["operator"])


@router.get("", summary="List my city's products")
def list_products(
    db: SessionDep, operator: CurrentOperator, params: Annotated[ProductQuery, Query()]
) -> Page[ProductRead]:
    items, total = product_service.get_all(
        db_session=db,
        city_id=operator.city_id,
        temperature_class=params.temperature_class,
        active=params.active,
        q=params.q,
        limit=params.limit,
        offset=params.offset,
    )
    return Page[ProductRead](
        items=[ProductRead.model_validate(p) for p in items],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a product in my city",
    responses={409: {"description": "The city has a product with this SKU"}},
)
def create_product(
    db: SessionDep, operator: CurrentOperator, product_in: ProductCreate
) -> ProductRead:
    city = city_service.get_required(db_session=db, city_id=operator.city_id)
    product = product_service.create(db_session=db, city_id=city.id, product_in=product_in)
    db.commit()
    return ProductRead.model_validate(product)


@router.get("/{product_id}", summary="Get a product")
def get_product(db: SessionDep, operator: CurrentOperator, product_id: int) -> ProductRead:
    product = product_service.get_required(
        db_session=db, product_id=product_id, city_id=operator.city_id
    )
    return ProductRead.model_validate(product)


@router.patch("/{product_id}", summary="Change or deactivate a product")
def update_product(
    db: SessionDep, operator: CurrentOperator, product_id: int, product_in: ProductUpdate
) -> ProductRead:
    product = product_service.get_required(
        db_session=db, product_id=product_id, city_id=operator.city_id
    )
    product = product_service.update(db_session=db, product=product, product_in=product_in)
    db.commit()
    return ProductRead.model_validate(product)


@router.delete(
    "/{product_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a product nothing refers to",
    responses={409: {"description": "Group buys refer to it; deactivate it instead"}},
)
def delete_product(db: SessionDep, operator: CurrentOperator, product_id: int) -> Response:
    product = product_service.get_required(
        db_session=db, product_id=product_id, city_id=operator.city_id
    )
    product_service.delete(db_session=db, product=product)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
