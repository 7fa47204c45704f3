"""Who is looking at a page: the signed token in an HttpOnly cookie, and the role checks.

The cookie holds the same signed bearer token the API issues (never a password or a code),
`HttpOnly` so no script reads it, `SameSite=Lax` so another site's form cannot post with it,
and `Secure` in production. Every state-changing page request must also come from our own
origin (`Sec-Fetch-Site` or `Origin`), which closes what SameSite leaves open.
"""

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from app.auth import sessions
from app.core.db import SessionDep
from app.core.errors import DomainError, NotAuthenticated
from app.core.security import Principal, Role, access_token_ttl, decode_access_token
from app.core.settings import get_settings
from app.residents.queries import ResidentAccount
from app.staff.queries import StaffAccount

SESSION_COOKIE = "pickup_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PAGES: dict[Role, str] = {
    "operator": "/staff/login",
    "driver": "/staff/login",
    "resident": "/login",
}


class PageLoginRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""

    def __init__(self, login_path: str, next_path: str) -> None:
        super().__init__(login_path)
        self.location = f"{login_path}?next={quote(next_path, safe='/')}"


class PageForbidden(Exception):
    """Signed in, but not as someone this page is for."""

    def __init__(self, role: str, needed: tuple[Role, ...]) -> None:
        super().__init__(role)
        self.role = role
        self.needed = needed


class CrossSiteRequest(DomainError):
    """A state-changing page request came from another site (Origin or Referer mismatch)."""

    status_code = 403
    code = "cross_site_request"


def set_session_cookie(response: Response, token: str) -> None:
    """Sign the browser in with `token`."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(access_token_ttl().total_seconds()),
        httponly=True,
        samesite="lax",
        secure=get_settings().environment == "production",
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Sign the browser out."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def safe_next(value: str | None, default: str) -> str:
    """A same-site path to go to after sign-in; anything else (other hosts, `//x`) is refused."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request that another site's page sent with our cookie."""
    if request.method not in UNSAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site in ("same-origin", "none"):
            return
        raise CrossSiteRequest("the request came from another site", field="origin")
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and urlsplit(origin).netloc == host:
        return
    raise CrossSiteRequest("the request names no origin of ours", field="origin")


def _page_principal(request: Request, needed: tuple[Role, ...]) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = LOGIN_PAGES[needed[0]]
    if not token:
        raise PageLoginRequired(login, target)
    try:
        principal = decode_access_token(token)
    except NotAuthenticated as exc:
        raise PageLoginRequired(login, target) from exc
    if principal.role not in needed:
        raise PageForbidden(principal.role, needed)
    check_same_origin(request)
    return principal


def page_staff(*roles: Role) -> Callable[[Request, Session], StaffAccount]:
    """A page dependency admitting active staff accounts holding one of `roles`, whose session
    was not signed out or revoked."""

    def dependency(request: Request, db: SessionDep) -> StaffAccount:
        principal = _page_principal(request, roles)
        try:
            return sessions.live_staff(db, principal, roles)
        except NotAuthenticated as exc:
            raise PageLoginRequired(LOGIN_PAGES[roles[0]], request.url.path) from exc

    return dependency


def page_resident(request: Request, db: SessionDep) -> ResidentAccount:
    """A page dependency admitting a signed-in resident whose session still works."""
    principal = _page_principal(request, ("resident",))
    try:
        return sessions.live_resident(db, principal)
    except NotAuthenticated as exc:
        raise PageLoginRequired(LOGIN_PAGES["resident"], request.url.path) from exc


def sign_out_session(request: Request, db: Session) -> None:
    """Revoke the token in the browser's session cookie, if it holds a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    try:
        principal = decode_access_token(token)
    except NotAuthenticated:
        return
    sessions.sign_out(db, principal)


PageOperator = Annotated[StaffAccount, Depends(page_staff("operator"))]
PageDriver = Annotated[StaffAccount, Depends(page_staff("driver"))]
PageResident = Annotated[ResidentAccount, Depends(page_resident)]
