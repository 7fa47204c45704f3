"""Tokens stop working on logout, password change and deactivation (issue 15, item 3).

Each test failed on the code before: there was no logout, and a token lived its 12 hours
whatever happened to the account (only a disabled staff account was refused, and only while
disabled).
"""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth import service as auth_service
from app.auth.models import RevokedToken
from app.core.db import utcnow
from app.core.security import access_token_ttl, decode_access_token
from app.core.settings import DEV_SECRET, Settings
from app.residents.models import Resident
from app.staff.models import StaffUser
from app.web.session import SESSION_COOKIE
from tests.conftest import token_for
from tests.factories import STAFF_PASSWORD, Factory

ClientFor = Callable[[Resident | StaffUser], TestClient]
PageClientFor = Callable[[Resident | StaffUser | None], TestClient]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _staff_login(anon: TestClient, username: str, password: str = STAFF_PASSWORD) -> str:
    reply = anon.post("/auth/staff/token", json={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def test_api_logout_revokes_the_presented_token_only(anon: TestClient, make: Factory) -> None:
    operator = make.operator()
    first, second = _staff_login(anon, operator.username), _staff_login(anon, operator.username)
    assert anon.get("/staff", headers=_bearer(first)).status_code == 200

    out = anon.post("/auth/logout", headers=_bearer(first))
    assert out.status_code == 204
    refused = anon.get("/staff", headers=_bearer(first))
    assert refused.status_code == 401
    assert refused.json()["detail"][0]["loc"][-1] == "authorization"
    assert anon.post("/auth/logout", headers=_bearer(first)).status_code == 401
    # The other session of the same account is still signed in.
    assert anon.get("/staff", headers=_bearer(second)).status_code == 200


def test_resident_logout_revokes_the_token(anon: TestClient, make: Factory) -> None:
    token = token_for(make.resident())
    assert anon.get("/me", headers=_bearer(token)).status_code == 200
    assert anon.post("/auth/logout", headers=_bearer(token)).status_code == 204
    assert anon.get("/me", headers=_bearer(token)).status_code == 401


def test_logout_needs_a_token(anon: TestClient) -> None:
    assert anon.post("/auth/logout").status_code == 401


def test_page_logout_revokes_the_cookies_token(
    page_client_for: PageClientFor, anon: TestClient, make: Factory
) -> None:
    for user, page in ((make.resident(), "/my-orders"), (make.operator(), "/ops")):
        browser = page_client_for(user)
        token = browser.cookies[SESSION_COOKIE]
        assert browser.get(page).status_code == 200
        out = browser.post("/logout")
        assert out.status_code == 303
        # A copy of the cookie (a stolen one, another tab) no longer works either.
        copy = page_client_for(None)
        copy.cookies.set(SESSION_COOKIE, token)
        assert copy.get(page).status_code == 303
        api = "/me" if isinstance(user, Resident) else "/staff"
        assert anon.get(api, headers=_bearer(token)).status_code == 401


def test_staff_password_change_revokes_every_token(
    anon: TestClient, client_for: ClientFor, make: Factory
) -> None:
    operator, driver = make.operator(), make.driver()
    old = _staff_login(anon, driver.username)
    assert anon.get("/driver/routes/today", headers=_bearer(old)).status_code != 401
    changed = client_for(operator).patch(
        f"/staff/{driver.id}", json={"password": "a brand new passphrase"}
    )
    assert changed.status_code == 200
    assert anon.get("/driver/routes/today", headers=_bearer(old)).status_code == 401
    new = _staff_login(anon, driver.username, "a brand new passphrase")
    assert anon.get("/driver/routes/today", headers=_bearer(new)).status_code != 401


def test_staff_deactivation_revokes_every_token(
    anon: TestClient, client_for: ClientFor, make: Factory
) -> None:
    operator, other = make.operator(), make.operator()
    token = _staff_login(anon, other.username)
    assert (
        client_for(operator).patch(f"/staff/{other.id}", json={"active": False}).status_code == 200
    )
    assert anon.get("/staff", headers=_bearer(token)).status_code == 401
    # Enabling the account again does not bring old tokens back.
    assert (
        client_for(operator).patch(f"/staff/{other.id}", json={"active": True}).status_code == 200
    )
    assert anon.get("/staff", headers=_bearer(token)).status_code == 401


def test_resident_deactivation_revokes_tokens_and_refuses_login(
    anon: TestClient,
    client_for: ClientFor,
    make: Factory,
    db: Session,
    code_for: Callable[[str], str],
) -> None:
    resident = make.resident()
    operator = make.operator()  # of the resident's city
    token = token_for(resident)
    assert anon.get("/me", headers=_bearer(token)).status_code == 200
    off = client_for(operator).patch(f"/residents/{resident.id}", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert anon.get("/me", headers=_bearer(token)).status_code == 401
    anon.post("/auth/resident/code", json={"phone": resident.phone})
    login = anon.post(
        "/auth/resident/token", json={"phone": resident.phone, "code": code_for(resident.phone)}
    )
    assert login.status_code == 403
    on = client_for(operator).patch(f"/residents/{resident.id}", json={"active": True})
    assert on.status_code == 200
    assert anon.get("/me", headers=_bearer(token)).status_code == 401
    anon.post("/auth/resident/code", json={"phone": resident.phone})
    again = anon.post(
        "/auth/resident/token", json={"phone": resident.phone, "code": code_for(resident.phone)}
    )
    assert again.status_code == 200


def test_signed_out_ids_are_kept_only_until_the_token_expires(
    anon: TestClient, make: Factory, db: Session
) -> None:
    token = token_for(make.resident())
    assert anon.post("/auth/logout", headers=_bearer(token)).status_code == 204
    token_id = decode_access_token(token).token_id
    assert db.get(RevokedToken, token_id) is not None
    auth_service.purge_expired(
        db_session=db, now=utcnow() + access_token_ttl() - timedelta(minutes=1)
    )
    assert db.get(RevokedToken, token_id) is not None
    auth_service.purge_expired(
        db_session=db, now=utcnow() + access_token_ttl() + timedelta(minutes=1)
    )
    assert db.scalar(select(RevokedToken).where(RevokedToken.token_id == token_id)) is None


def test_production_refuses_the_development_signing_key() -> None:
    """Tokens are signed with SECRET_KEY; production will not start on the public dev key."""
    for weak in (DEV_SECRET, "short"):
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            Settings(environment="production", secret_key=weak, _env_file=None)
    Settings(environment="production", secret_key="x" * 32, _env_file=None)


def test_the_clockwork_tick_forgets_expired_sign_outs(committed: sessionmaker[Session]) -> None:
    from app.clockwork import QueuedCutoffs, tick

    now = utcnow()
    with committed() as session:
        session.add(RevokedToken(token_id="a" * 32, expires_at=now - timedelta(seconds=1)))
        session.add(RevokedToken(token_id="b" * 32, expires_at=now + timedelta(hours=1)))
        session.commit()
    report = tick(now, launcher=QueuedCutoffs(committed), session_factory=committed)
    assert "logins" not in report.errors
    with committed() as session:
        left = set(session.scalars(select(RevokedToken.token_id)))
    assert left == {"b" * 32}
