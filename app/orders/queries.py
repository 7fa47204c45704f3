"""Reads of the orders' tables for other packages: plain values, never the models."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods import queries as neighborhood_queries
from app.orders.models import Order


@dataclass(frozen=True)
class OrderTotals:
    """An order's resident, status and money."""

    id: int
    resident_id: int
    status: str
    currency: str
    paid_minor: int
    charged_minor: int | None


def order_totals_in_city(db_session: Session, order_id: int, city_id: int) -> OrderTotals | None:
    """The order's totals if it was placed in one of the city's neighborhoods, else None."""
    row = db_session.execute(
        select(
            Order.id,
            Order.resident_id,
            Order.status,
            Order.currency,
            Order.paid_minor,
            Order.charged_minor,
        ).where(
            Order.id == order_id,
            Order.neighborhood_id.in_(neighborhood_queries.neighborhood_ids_in_city(city_id)),
        )
    ).one_or_none()
    if row is None:
        return None
    order_id, resident_id, status, currency, paid_minor, charged_minor = row
    return OrderTotals(order_id, resident_id, status.value, currency, paid_minor, charged_minor)
