"""The pages every user shares: staff sign-in, sign-out, the language switch, static files, docs.

Thin: parse the form, call the auth service, set or clear the cookie, redirect.
"""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.auth import ratelimit
from app.auth import service as auth_service
from app.core.db import SessionDep
from app.core.errors import DomainError
from app.staff import service as staff_service
from app.web.i18n import LANG_COOKIE, parse_language
from app.web.session import (
    PageForbidden,
    PageLoginRequired,
    check_same_origin,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
    sign_out_session,
)
from app.web.templating import WEB_DIR, PageTemplates

router = APIRouter(include_in_schema=False)
pages = PageTemplates(Path(__file__).parent)
HOME_OF_ROLE = {"operator": "/ops", "driver": "/driver", "resident": "/"}


@router.get("/staff/login", response_class=HTMLResponse)
def staff_login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """The operators' and drivers' sign-in form."""
    return pages.render(request, "staff_login.html", {"next": safe_next(next, "")})


@router.post("/staff/login", response_model=None)
def staff_login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Sign a staff member in and send them to their home page (or where they were going)."""
    check_same_origin(request)
    client = ratelimit.client_key(request.client.host if request.client else None)
    try:
        name = staff_service.normalize_username(username)
        auth_service.count_request(db_session=db, action="staff", subject=name, client=client)
        login = auth_service.login_staff(
            db_session=db, username=name, password=password, client=client
        )
    except DomainError as refusal:
        db.commit()  # the rate-limit counters and lockouts must stick
        context = {"next": safe_next(next, ""), "username": username, "error": refusal.reason}
        return pages.render(request, "staff_login.html", context, status_code=refusal.status_code)
    db.commit()
    home = HOME_OF_ROLE[login.user.role.value]
    response = RedirectResponse(safe_next(next, home), status_code=303)
    set_session_cookie(response, login.access_token)
    return response


@router.post("/logout")
def logout(request: Request, db: SessionDep) -> RedirectResponse:
    """Sign out (the session's token stops working, not just the cookie) and return to the
    page's own sign-in."""
    check_same_origin(request)
    sign_out_session(request, db)
    db.commit()
    back = "/staff/login" if request.url.path.startswith(("/ops", "/driver")) else "/login"
    referer = request.headers.get("referer", "")
    if "/ops" in referer or "/driver" in referer:
        back = "/staff/login"
    response = RedirectResponse(back, status_code=303)
    clear_session_cookie(response)
    return response


@router.post("/lang")
def switch_language(
    request: Request,
    lang: Annotated[str, Form(max_length=10)] = "en",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back."""
    check_same_origin(request)
    language = parse_language(lang)
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if language is not None:
        response.set_cookie(
            LANG_COOKIE, language.value, max_age=365 * 86400, samesite="lax", path="/"
        )
    return response


def _docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Pickup API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
    )


def _page_refusal(request: Request, exc: Exception) -> Response:
    if isinstance(exc, PageLoginRequired):
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": exc.location})
        return RedirectResponse(exc.location, status_code=303)
    assert isinstance(exc, PageForbidden)
    context = {"role": exc.role, "home": HOME_OF_ROLE.get(exc.role, "/")}
    return pages.render(request, "forbidden.html", context, status_code=403)


def mount_web(app: FastAPI) -> None:
    """Static files, the offline API docs, the shared pages and their refusal handlers."""
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.add_api_route("/docs", _docs, include_in_schema=False)
    app.include_router(router)
    app.add_exception_handler(PageLoginRequired, _page_refusal)
    app.add_exception_handler(PageForbidden, _page_refusal)
