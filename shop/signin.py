"""Sign-in with phone and one-time code; a new number signs up in a neighborhood it picks from
the public lookup (by name, or nearest first from the phone's position)."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.auth import ratelimit
from app.auth import service as auth_service
from app.core.db import SessionDep
from app.core.errors import DomainError
from app.neighborhoods import lookup as neighborhood_lookup
from app.residents import service as residents_service
from app.web.i18n import request_language
from app.web.session import check_same_origin, safe_next, set_session_cookie
from shop.pages import refusal, render

router = APIRouter()
PAGE_SIZE = 8
Phone = Annotated[str, Form(max_length=32)]
Next = Annotated[str, Form(max_length=500)]


def _client(request: Request) -> str:
    return ratelimit.client_key(request.client.host if request.client else None)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    """Step one: the phone number."""
    return render(request, "login.html", {"next": safe_next(next, "")})


@router.post("/login", response_class=HTMLResponse)
def send_code(request: Request, db: SessionDep, phone: Phone = "", next: Next = "") -> HTMLResponse:
    """Text a login code to the phone (rate-limited as the API is), then ask for it."""
    check_same_origin(request)
    context = {"next": safe_next(next, ""), "phone": phone}
    try:
        e164 = residents_service.normalize_phone(phone)
        auth_service.count_request(
            db_session=db, action="code", subject=e164, client=_client(request)
        )
        issued = auth_service.request_login_code(
            db_session=db, phone=e164, language=request_language(request)
        )
    except DomainError as error:
        db.commit()
        return refusal(request, "login.html", error, context)
    db.commit()
    try:
        auth_service.send_login_code(issued=issued)
    except DomainError as error:
        return refusal(request, "login.html", error, context)
    return render(request, "login_code.html", {**context, "phone": e164})


@router.post("/login/code", response_model=None)
def check_code(
    request: Request,
    db: SessionDep,
    phone: Phone = "",
    code: Annotated[str, Form(max_length=12)] = "",
    next: Next = "",
) -> Response:
    """Step two: the code signs a resident in; a new number goes on to pick a neighborhood."""
    check_same_origin(request)
    context = {"next": safe_next(next, ""), "phone": phone}
    try:
        token = _login(request, db, phone, code)
    except DomainError as error:
        if error.field == "neighborhood_id":
            return render(request, "signup.html", {**context, "code": code.strip()})
        return refusal(request, "login_code.html", error, context)
    return _signed_in(token, next)


@router.post("/signup", response_model=None)
def sign_up(
    request: Request,
    db: SessionDep,
    phone: Phone = "",
    code: Annotated[str, Form(max_length=12)] = "",
    neighborhood_id: Annotated[int | None, Form(gt=0, le=2**31 - 1)] = None,
    name: Annotated[str, Form(max_length=120)] = "",
    next: Next = "",
) -> Response:
    """Register the number in the chosen neighborhood, with the code it was sent."""
    check_same_origin(request)
    context = {"next": safe_next(next, ""), "phone": phone, "code": code, "name": name}
    try:
        token = _login(request, db, phone, code, neighborhood_id, name.strip() or None)
    except DomainError as error:
        return refusal(request, "signup.html", error, context)
    return _signed_in(token, next)


@router.get("/signup/neighborhoods", response_class=HTMLResponse)
def neighborhoods(
    request: Request,
    db: SessionDep,
    q: Annotated[str, Query(max_length=80)] = "",
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    """The public, paginated neighborhood lookup (a list fragment for the sign-up form)."""
    hits, total = neighborhood_lookup.lookup(
        db_session=db, q=q, lat=lat, lon=lon, limit=PAGE_SIZE, offset=offset
    )
    context = {
        "hits": hits,
        "total": total,
        "q": q,
        "lat": lat,
        "lon": lon,
        "offset": offset,
        "page_size": PAGE_SIZE,
    }
    return render(request, "neighborhood_list.html", context)


def _login(
    request: Request,
    db: Session,
    phone: str,
    code: str,
    neighborhood_id: int | None = None,
    name: str | None = None,
) -> str:
    """A resident token for the phone and code (registering a new number when a neighborhood
    is given), counted for rate limits; what a refusal counted is committed too."""
    try:
        e164 = residents_service.normalize_phone(phone)
        auth_service.count_request(
            db_session=db, action="token", subject=e164, client=_client(request)
        )
        login = auth_service.login_resident(
            db_session=db,
            phone=e164,
            code=code.strip(),
            client=_client(request),
            neighborhood_id=neighborhood_id,
            name=name,
            language=request_language(request),
        )
    finally:
        db.commit()
    return login.access_token


def _signed_in(token: str, next: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    set_session_cookie(response, token)
    return response
