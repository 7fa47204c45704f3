"""Every endpoint checks the token and the role; residents cannot reach operators' data."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.security import Principal, access_token_ttl, create_access_token
from app.core.settings import Settings
from app.residents.models import Resident
from tests.factories import Factory

ClientFor = Callable[[Any], TestClient]

OPERATOR_ENDPOINTS = [
    ("GET", "/residents", None),
    ("POST", "/residents", {"phone": "+8613912349999", "neighborhood_id": 1}),
    ("GET", "/residents/1", None),
    ("PATCH", "/residents/1", {"name": "x"}),
    ("GET", "/staff", None),
    ("POST", "/staff", {"username": "abc", "password": "long enough pw", "role": "driver"}),
    ("GET", "/staff/1", None),
    ("PATCH", "/staff/1", {"active": False}),
]
RESIDENT_ENDPOINTS = [("GET", "/me", None), ("PATCH", "/me", {"name": "x"})]
ALL_ENDPOINTS = OPERATOR_ENDPOINTS + RESIDENT_ENDPOINTS


def _call(client: TestClient, method: str, path: str, body: Any, **kw: Any) -> Any:
    return client.request(method, path, json=body, **kw)


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ENDPOINTS)
def test_resident_and_driver_tokens_are_forbidden_on_operator_endpoints(
    client_for: ClientFor, make: Factory, method: str, path: str, body: Any
) -> None:
    for user in (make.resident(), make.driver()):
        reply = _call(client_for(user), method, path, body)
        assert reply.status_code == 403, (user, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["header", "authorization"]


@pytest.mark.parametrize(("method", "path", "body"), RESIDENT_ENDPOINTS)
def test_staff_tokens_are_forbidden_on_resident_endpoints(
    client_for: ClientFor, make: Factory, method: str, path: str, body: Any
) -> None:
    for user in (make.operator(), make.driver()):
        assert _call(client_for(user), method, path, body).status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
def test_missing_or_bad_tokens_are_401(
    anon: TestClient, method: str, path: str, body: Any, settings: Settings
) -> None:
    assert _call(anon, method, path, body).status_code == 401
    garbage = {"Authorization": "Bearer not.a.token"}
    assert _call(anon, method, path, body, headers=garbage).status_code == 401
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert _call(anon, method, path, body, headers=basic).status_code == 401
    forged = jwt.encode(
        {"sub": "1", "role": "operator", "exp": utcnow() + timedelta(hours=1)},
        "some-other-secret-that-is-long-enough-too",
        algorithm="HS256",
    )
    reply = _call(anon, method, path, body, headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"] == "Bearer"


def test_expired_token_is_401(anon: TestClient, make: Factory) -> None:
    operator = make.operator()
    issued = utcnow() - access_token_ttl() - timedelta(seconds=5)
    old = create_access_token(Principal(subject_id=operator.id, role="operator"), now=issued)
    reply = anon.get("/staff", headers={"Authorization": f"Bearer {old}"})
    assert reply.status_code == 401
    fresh = create_access_token(Principal(subject_id=operator.id, role="operator"))
    assert anon.get("/staff", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_token_without_expiry_or_with_unknown_role_is_401(
    anon: TestClient, make: Factory, settings: Settings
) -> None:
    operator = make.operator()
    no_exp = jwt.encode({"sub": str(operator.id), "role": "operator"}, settings.secret_key)
    admin = jwt.encode(
        {"sub": str(operator.id), "role": "admin", "exp": utcnow() + timedelta(hours=1)},
        settings.secret_key,
    )
    none_alg = jwt.encode(
        {"sub": str(operator.id), "role": "operator", "exp": utcnow() + timedelta(hours=1)},
        None,
        algorithm="none",
    )
    for token in (no_exp, admin, none_alg):
        reply = anon.get("/staff", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, token


def test_role_claim_must_match_the_account(anon: TestClient, make: Factory) -> None:
    """A driver's id in an operator-role token does not make the driver an operator."""
    driver = make.driver()
    token = create_access_token(Principal(subject_id=driver.id, role="operator"))
    assert anon.get("/staff", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_of_a_resident_who_no_longer_exists_is_401(
    anon: TestClient, make: Factory, db: Session
) -> None:
    resident = make.resident()
    token = create_access_token(Principal(subject_id=resident.id, role="resident"))
    db.delete(db.get(Resident, resident.id))
    db.flush()
    assert anon.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_resident_cannot_read_residents_by_id(client_for: ClientFor, make: Factory) -> None:
    """IDOR: /residents/{id} is for operators; a resident gets 403 for their own and others' ids."""
    me, neighbour = make.resident(), make.resident()
    client = client_for(me)
    for resident_id in (me.id, neighbour.id):
        assert client.get(f"/residents/{resident_id}").status_code == 403
        assert client.patch(f"/residents/{resident_id}", json={"name": "x"}).status_code == 403
    assert client.get("/residents", params={"phone": neighbour.phone}).status_code == 403
    assert client.get("/me").json()["id"] == me.id


def test_operator_of_another_city_sees_404(client_for: ClientFor, make: Factory) -> None:
    resident = make.resident()
    elsewhere = make.operator(city=make.city())
    client = client_for(elsewhere)
    assert client.get(f"/residents/{resident.id}").status_code == 404
    assert client.patch(f"/residents/{resident.id}", json={"name": "x"}).status_code == 404
    assert resident.id not in [r["id"] for r in client.get("/residents").json()]
