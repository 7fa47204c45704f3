"""Payments endpoints for operators: the ledger of an order."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.auth.deps import CurrentOperator
from app.core.db import SessionDep
from app.groupbuys import pricing
from app.orders import queries as order_queries
from app.orders.errors import OrderNotFound
from app.orders.schemas import MAX_ID
from app.payments import service as payment_service
from app.payments.schemas import LedgerEntryRead, OrderLedgerRead

router = APIRouter(tags=["operator"])


@router.get(
    "/orders/{order_id}/ledger",
    response_model=OrderLedgerRead,
    summary="Every charge and refund of an order (operators)",
    responses={404: {"description": "No such order in the operator's city"}},
)
def read_order_ledger(
    order_id: Annotated[int, Path(ge=1, le=MAX_ID)], operator: CurrentOperator, db: SessionDep
) -> OrderLedgerRead:
    """The order's ledger entries in order, with the net balance held."""
    order = order_queries.order_totals_in_city(db, order_id, operator.city_id)
    if order is None:
        raise OrderNotFound("no such order", field="order_id")
    entries = payment_service.get_all_for_order(db_session=db, order_id=order.id)
    balance = payment_service.balance(db_session=db, order_id=order.id)
    return OrderLedgerRead(
        order_id=order.id,
        resident_id=order.resident_id,
        currency=order.currency,
        order_status=order.status,
        paid_minor=order.paid_minor,
        charged_minor=order.charged_minor,
        balance_minor=balance,
        balance_display=pricing.format_money(balance, order.currency),
        entries=[LedgerEntryRead.model_validate(e) for e in entries],
    )
