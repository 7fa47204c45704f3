"""The residents' shop templates and messages, over the shared layout of `app.web`."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.auth import sessions
from app.core.enums import Language
from app.core.errors import DomainError, NotAuthenticated
from app.core.security import decode_access_token
from app.web.i18n import request_language
from app.web.session import SESSION_COOKIE, PageResident
from app.web.templating import PageTemplates

pages = PageTemplates(Path(__file__).parent)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    resident: PageResident | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A shop page in the resident's language (the switch's cookie first, then their account's)."""
    language = request_language(request, Language(resident.language) if resident else None)
    values = {"resident": resident, **(context or {})}
    return pages.render(request, name, values, language=language, status_code=status_code)


def refusal(
    request: Request, name: str, error: DomainError, context: dict[str, Any], **kw: Any
) -> HTMLResponse:
    """The page again, with the refusal's reason and field, at its status code."""
    values = {**context, "error": error.reason, "error_field": error.field}
    return render(request, name, values, status_code=error.status_code, **kw)


def signed_in_resident(request: Request, db: Session) -> PageResident | None:
    """The resident a public page is shown to, if the browser is signed in as one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = decode_access_token(token)
        if principal.role != "resident":
            return None
        return sessions.live_resident(db, principal)
    except NotAuthenticated:
        return None
