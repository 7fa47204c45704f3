"""Parcels and orders: lists by state, a resident's orders, one parcel's whole chain."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import DomainError, NotFound
from app.orders.queries import OrderStatus, OrderView, order_view
from app.web.session import PageOperator
from app.windows.queries import WindowView, window_view
from logistics.errors import ParcelNotFound, WindowNotFound
from logistics.queries import parcel_view
from ops_dashboard import parcel_chain, routes_map_queries
from ops_dashboard import parcels_queries as queries
from ops_dashboard.pages import pages

router = APIRouter()
Tab = Annotated[str, Query(pattern="^(" + "|".join(queries.TABS) + ")$")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
WindowId = Annotated[int | None, Query(ge=1)]


class OrderNotFound(NotFound):
    """No order with this id in the operator's city."""

    case = "order_not_found"


def pick_window(db: Session, city_id: int, window_id: int | None) -> WindowView | None:
    """The window asked for (of the operator's city), else the one most likely watched."""
    if window_id is None:
        now = utcnow()
        windows = routes_map_queries.windows_of(db, city_id, now)
        routed = routes_map_queries.routed_windows(db, [w.id for w in windows])
        window_id = routes_map_queries.current_window(windows, routed, now)
        if window_id is None:
            return None
    window = window_view(db, window_id)
    if window is None or window.city_id != city_id:
        raise WindowNotFound(f"delivery window {window_id} not found", field="window_id")
    return window


def window_choices(db: Session, city_id: int, window: WindowView | None) -> list[Any]:
    """The windows around now to pick from (the chosen one included)."""
    windows: list[Any] = list(routes_map_queries.windows_of(db, city_id, utcnow()))
    if window is not None and window.id not in {w.id for w in windows}:
        windows.append(window)
    return windows


@router.get("/parcels", response_class=HTMLResponse)
def parcels_page(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    tab: Tab = "orders",
    window_id: WindowId = None,
    page: PageNumber = 1,
    status: Annotated[OrderStatus | None, Query()] = None,
    phone: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """A window's orders or parcels in one state, or a resident's orders by phone."""
    window = pick_window(db, operator.city_id, window_id)
    now = utcnow()
    context: dict[str, Any] = {
        "tab": tab,
        "window": window,
        "windows": window_choices(db, operator.city_id, window),
        "status": status.value if status else "",
        "statuses": [s.value for s in OrderStatus],
        "phone": phone,
        "listing": None,
        "counts": queries.tab_counts(db, window.id, now) if window else {},
        "expiring_hours": int(queries.EXPIRING_WITHIN.total_seconds() // 3600),
        "kind_of": queries.status_kind,
    }
    status_code = 200
    if tab == "resident":
        if phone.strip():
            try:
                normalized = queries.normalize_phone(phone)
                context["listing"] = queries.resident_orders(db, operator.city_id, normalized, page)
            except DomainError as refusal:
                context["error"] = refusal
                status_code = refusal.status_code
    elif window is not None:
        if tab == "orders":
            context["listing"] = queries.window_orders(db, window.id, page, status)
        else:
            context["listing"] = queries.parcels_in(db, window.id, tab, page, now)
    return pages.render(request, "parcels.html", context, status_code=status_code)


def _order(db: Session, city_id: int, order_id: int) -> OrderView:
    order = order_view(db, order_id)
    window = window_view(db, order.window_id) if order is not None else None
    if order is None or window is None or window.city_id != city_id:
        raise OrderNotFound(f"order {order_id} not found", field="order_id")
    return order


@router.get("/parcels/orders/{order_id}", response_class=HTMLResponse)
def order_chain(
    request: Request, db: SessionDep, operator: PageOperator, order_id: int
) -> HTMLResponse:
    """An order's whole chain: every parcel of it, its SMS, its money."""
    chain = parcel_chain.load_chain(db, _order(db, operator.city_id, order_id), None)
    return pages.render(
        request, "parcel_chain.html", {"chain": chain, "kind_of": queries.status_kind}
    )


@router.get("/parcels/{parcel_id}", response_class=HTMLResponse)
def parcel_page(
    request: Request, db: SessionDep, operator: PageOperator, parcel_id: int
) -> HTMLResponse:
    """One parcel's whole chain, from the order to its collection (or expiry, or refund)."""
    parcel = parcel_view(db, parcel_id)
    window = window_view(db, parcel.window_id) if parcel is not None else None
    if parcel is None or window is None or window.city_id != operator.city_id:
        raise ParcelNotFound(f"parcel {parcel_id} not found", field="parcel_id")
    order = _order(db, operator.city_id, parcel.order_id)
    chain = parcel_chain.load_chain(db, order, parcel)
    return pages.render(
        request, "parcel_chain.html", {"chain": chain, "kind_of": queries.status_kind}
    )
