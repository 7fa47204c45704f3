"""My orders (each a timeline, cancel before the cut-off, extend a pickup once) and my account
(SMS opt-out, language)."""

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.core.db import SessionDep, utcnow
from app.core.enums import Language
from app.core.errors import DomainError
from app.orders import service as order_service
from app.residents import service as residents_service
from app.web.i18n import LANG_COOKIE
from app.web.session import PageResident
from lockers import extension
from lockers.errors import ParcelNotFound
from shop import order_queries
from shop.pages import refusal, render

router = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/my-orders", response_class=HTMLResponse)
def orders_page(request: Request, db: SessionDep, resident: PageResident) -> HTMLResponse:
    """The resident's orders, newest first."""
    orders = order_queries.order_list(db, resident.id)
    return render(request, "orders.html", {"orders": orders}, resident=resident)


@router.get("/my-orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, db: SessionDep, resident: PageResident, order_id: Id
) -> HTMLResponse:
    """One order as a timeline; the pickup code and its QR code while the parcel waits."""
    view = order_queries.order_view(db, resident.id, order_id, utcnow())
    return render(request, "order.html", {"view": view}, resident=resident)


@router.post("/my-orders/{order_id}/cancel", response_model=None)
def cancel(request: Request, db: SessionDep, resident: PageResident, order_id: Id) -> Response:
    """Cancel before the cut-off: stock released, full refund."""
    view = order_queries.order_view(db, resident.id, order_id, utcnow())
    try:
        order_service.cancel(db_session=db, resident_id=resident.id, order_id=order_id)
    except DomainError as error:  # nothing is committed: the request's session rolls back
        return refusal(request, "order.html", error, {"view": view}, resident=resident)
    db.commit()
    return RedirectResponse(f"/my-orders/{order_id}", status_code=303)


@router.post("/my-orders/{order_id}/parcels/{parcel_id}/extend", response_model=None)
def extend(
    request: Request, db: SessionDep, resident: PageResident, order_id: Id, parcel_id: Id
) -> Response:
    """Push one parcel's pickup deadline back, once, where the locker allows it."""
    view = order_queries.order_view(db, resident.id, order_id, utcnow())
    if parcel_id not in {p.parcel_id for p in view.parcels}:
        raise ParcelNotFound("no such parcel in this order", field="parcel_id")
    try:
        extension.extend(db_session=db, parcel_id=parcel_id, resident_id=resident.id)
    except DomainError as error:  # nothing is committed: the request's session rolls back
        return refusal(request, "order.html", error, {"view": view}, resident=resident)
    db.commit()
    return RedirectResponse(f"/my-orders/{order_id}", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, resident: PageResident) -> HTMLResponse:
    """Name, language and whether SMS may be sent."""
    saved = request.query_params.get("saved") == "1"
    return render(request, "account.html", {"saved": saved}, resident=resident)


@router.post("/account", response_model=None)
def save_account(
    request: Request,
    db: SessionDep,
    resident: PageResident,
    language: Annotated[Language, Form()],
    name: Annotated[str, Form(max_length=120)] = "",
    sms: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Save the account; the pages follow the language chosen here."""
    residents_service.update_own_profile(
        db_session=db, account=resident, name=name, language=language, sms_consent=sms == "on"
    )
    db.commit()
    response = RedirectResponse("/account?saved=1", status_code=303)
    response.set_cookie(LANG_COOKIE, language.value, max_age=365 * 86400, samesite="lax", path="/")
    return response
