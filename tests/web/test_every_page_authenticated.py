"""Every page refuses a stranger and a user of the wrong kind, except the few that are public.

Pages are not in the OpenAPI schema, so they are found in the app's routes: whatever a page
package adds is checked here without being listed.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.main import create_app
from app.staff.models import StaffRole
from tests.factories import Factory

# Sign-in, the language switch, static files and the docs, and what a stranger may see on
# purpose: the neighborhood lookup for sign-up, a share link's preview, the driver app's shell.
PUBLIC_PAGES = re.compile(
    r"^(/staff/login|/login(/.*)?|/logout|/lang|/docs|/signup(/.*)?|/neighborhoods/lookup"
    r"|/s/.*|/driver/(manifest\.webmanifest|sw\.js|app\.js|offline)|/healthz)$"
)
AUDIENCE = {"/ops": "operator", "/driver": "driver"}


def _routes(
    routes: list[Any], prefix: str = "", shown: bool = True
) -> Iterator[tuple[str, bool, set[str]]]:
    """(path, in the schema, methods) of every route, through included routers at any depth
    (FastAPI 0.165 keeps an included router as one entry that wraps the original)."""
    for route in routes:
        if hasattr(route, "original_router"):
            context, inner = route.include_context, route.original_router
            visible = shown and context.include_in_schema and inner.include_in_schema
            yield from _routes(inner.routes, prefix + context.prefix, visible)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, shown and route.include_in_schema, set(route.methods)


def _pages() -> list[tuple[str, str]]:
    found = []
    for path, in_schema, methods in _routes(list(create_app().routes)):
        if not in_schema and not PUBLIC_PAGES.match(path):
            found.extend((method, path) for method in sorted(methods - {"HEAD"}))
    return found


def test_the_pages_are_found() -> None:
    paths = {path for _, path in _pages()}
    assert {"/ops", "/ops/alarms", "/driver", "/my-orders", "/"} <= paths


def _audience(path: str) -> str:
    for prefix, role in AUDIENCE.items():
        if path == prefix or path.startswith(prefix + "/"):
            return role
    return "resident"


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize(("method", "path"), _pages() or [("GET", "/none")])
def test_a_stranger_is_sent_to_sign_in(page_client_for, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    if path == "/none":
        pytest.skip("no private page yet")
    answer = page_client_for(None).request(method, _url(path))
    assert answer.status_code == 303, f"{method} {path} answered {answer.status_code}"
    assert answer.headers["location"].startswith(("/staff/login?next=", "/login?next="))


@pytest.mark.parametrize(("method", "path"), _pages() or [("GET", "/none")])
def test_the_wrong_kind_of_user_is_refused(  # type: ignore[no-untyped-def]
    page_client_for, make: Factory, method: str, path: str
) -> None:
    if path == "/none":
        pytest.skip("no private page yet")
    audience = _audience(path)
    strangers = {
        "operator": [make.resident(), make.staff(StaffRole.DRIVER)],
        "driver": [make.resident(), make.staff(StaffRole.OPERATOR)],
        "resident": [make.staff(StaffRole.OPERATOR), make.staff(StaffRole.DRIVER)],
    }[audience]
    for user in strangers:
        answer = page_client_for(user).request(method, _url(path))
        assert answer.status_code == 403, f"{method} {path} let a {user} in"
