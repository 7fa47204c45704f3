"""Residents' order endpoints: place (idempotent), list, read and cancel their own orders."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response, status

from app.auth.deps import CurrentResident
from app.core.db import SessionDep
from app.core.limits import MAX_INT
from app.orders import service as order_service
from app.orders.schemas import MAX_ID, OrderCreate, OrderPage, OrderRead

router = APIRouter(tags=["resident"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=80,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Recommended: a unique value per order (e.g. a UUID). A retry with the same key and "
            "body returns the first result; the same key with another body is refused (409)."
        ),
        examples=["8f14e45f-ceea-4671-9f1a-2bd5e1a0b7c3"],
    ),
]


@router.post(
    "/orders",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order in my neighborhood's group buys for one window",
    responses={
        403: {"description": "A line names another neighborhood's group buy"},
        409: {
            "description": "Window past its cut-off, not enough stock (remaining in ctx), "
            "or Idempotency-Key reused with another body"
        },
        422: {"description": "Malformed or impossible input; `loc` names the field"},
    },
)
def place_order(
    order_in: OrderCreate,
    resident: CurrentResident,
    db: SessionDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderRead:
    """Pays the entry price of each line now; the difference to the tier reached is refunded at
    the cut-off, and everything if the group fails."""
    result = order_service.place(
        db_session=db, resident=resident, order_in=order_in, idempotency_key=idempotency_key
    )
    db.commit()
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result.order


@router.get("/orders", response_model=OrderPage, summary="My orders, newest first")
def list_orders(
    resident: CurrentResident,
    db: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> OrderPage:
    """One page of the caller's orders."""
    orders, total = order_service.get_all_for_resident(
        db_session=db, resident_id=resident.id, limit=limit, offset=offset
    )
    return OrderPage(
        items=order_service.to_reads(db, orders), total=total, limit=limit, offset=offset
    )


@router.get(
    "/orders/{order_id}",
    response_model=OrderRead,
    summary="One of my orders",
    responses={404: {"description": "No such order of mine (another resident's is 404 too)"}},
)
def read_order(order_id: OrderId, resident: CurrentResident, db: SessionDep) -> OrderRead:
    """The caller's order; anyone else's id answers 404."""
    order = order_service.get_for_resident(
        db_session=db, resident_id=resident.id, order_id=order_id
    )
    return order_service.to_read(db, order)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderRead,
    summary="Cancel my order before the cut-off (stock released, full refund)",
    responses={409: {"description": "Past the cut-off, or the order is not placed any more"}},
)
def cancel_order(order_id: OrderId, resident: CurrentResident, db: SessionDep) -> OrderRead:
    """Only a placed order, only before its window's cut-off."""
    order = order_service.cancel(db_session=db, resident_id=resident.id, order_id=order_id)
    db.commit()
    return order_service.to_read(db, order)
