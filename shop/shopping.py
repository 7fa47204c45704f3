"""The window picker, a window's shop with its group cards, and the basket that places an
order once, however often it is tapped (an idempotency key per basket shown)."""

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.core.db import SessionDep
from app.core.errors import DomainError, InvalidInput
from app.orders import service as order_service
from app.orders.schemas import OrderCreate, OrderLineCreate
from app.web.session import PageResident
from shop import shop_queries
from shop.pages import refusal, render

router = APIRouter()
WindowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class BasketKeyMissing(InvalidInput):
    """The basket form lost its idempotency key (or it is too long)."""

    case = "basket_key_missing"


class BasketEmpty(InvalidInput):
    """The basket has no item with a quantity."""

    case = "basket_empty"


class WindowIdInvalid(InvalidInput):
    """The window id is missing or not a whole number in range."""

    case = "window_id_invalid"


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: SessionDep, resident: PageResident) -> HTMLResponse:
    """The window picker: each open window with its cut-off countdown and pickup time."""
    catalog, choices = shop_queries.window_picker(db, resident)
    context = {"catalog": catalog, "choices": choices}
    return render(request, "home.html", context, resident=resident)


@router.get("/w/{window_id}", response_class=HTMLResponse)
def window_shop(
    request: Request, db: SessionDep, resident: PageResident, window_id: WindowId
) -> HTMLResponse:
    """The neighborhood's group buys in one window, by temperature class, each with its card."""
    shop = shop_queries.shop_window(db, resident, window_id)
    return render(request, "window.html", {"shop": shop}, resident=resident)


@router.get("/basket", response_class=HTMLResponse)
def basket_page(request: Request, db: SessionDep, resident: PageResident) -> HTMLResponse:
    """The basket from the shop's quantities, with a fresh idempotency key for this render."""
    window_id = _window_id(request.query_params.get("window_id"))
    quantities = shop_queries.parse_quantities(dict(request.query_params))
    basket = shop_queries.basket(db, resident, window_id, quantities)
    context = {"basket": basket, "idempotency_key": str(uuid4())}
    return render(request, "basket.html", context, resident=resident)


@router.post("/basket", response_model=None)
async def place_order(request: Request, db: SessionDep, resident: PageResident) -> Response:
    """Place the basket's order; the same key again (a double tap) answers the same order."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    window_id = _window_id(form.get("window_id"))
    key = form.get("idempotency_key", "").strip()
    if not key or len(key) > 80:
        raise BasketKeyMissing(
            "the basket's key is missing; open the basket again", field="idempotency_key"
        )
    basket = shop_queries.basket(db, resident, window_id, shop_queries.parse_quantities(form))
    if not basket.lines:
        raise BasketEmpty("choose at least one item", field="lines")
    order_in = OrderCreate(
        window_id=window_id,
        lines=[
            OrderLineCreate(group_buy_id=line.group_buy.id, quantity=line.quantity)
            for line in basket.lines
        ],
    )
    try:
        result = order_service.place(
            db_session=db, resident=resident, order_in=order_in, idempotency_key=key
        )
    except DomainError as error:  # nothing is committed: the request's session rolls back
        context = {"basket": basket, "idempotency_key": str(uuid4())}
        return refusal(request, "basket.html", error, context, resident=resident)
    db.commit()
    return RedirectResponse(f"/my-orders/{result.order.id}", status_code=303)


def _window_id(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit() or not 0 < int(raw) < 2**31:
        raise WindowIdInvalid("must be a delivery window id", field="window_id")
    return int(raw)
