"""Staff log in with username and password; operators manage the accounts of their city."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.core.security import decode_access_token, verify_password
from app.staff import service as staff_service
from app.staff.models import StaffRole, StaffUser
from tests.factories import STAFF_PASSWORD, Factory

ClientFor = Callable[[Any], TestClient]


def test_operator_and_driver_log_in_with_their_role(anon: TestClient, make: Factory) -> None:
    for user in (make.operator(), make.driver()):
        reply = anon.post(
            "/auth/staff/token", json={"username": user.username, "password": STAFF_PASSWORD}
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["role"] == user.role.value
        assert body["staff"]["id"] == user.id
        assert "password_hash" not in body["staff"]
        principal = decode_access_token(body["access_token"])
        assert (principal.subject_id, principal.role) == (user.id, user.role.value)


def test_oauth2_password_form_works_for_the_docs_authorize_button(
    anon: TestClient, make: Factory
) -> None:
    operator = make.operator()
    reply = anon.post(
        "/auth/staff/token",
        data={"grant_type": "password", "username": operator.username, "password": STAFF_PASSWORD},
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    assert anon.get("/staff", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    schema = anon.get("/openapi.json").json()
    flows = schema["components"]["securitySchemes"]["StaffPassword"]["flows"]
    assert flows["password"]["tokenUrl"] == "/auth/staff/token"
    content = schema["paths"]["/auth/staff/token"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}


def test_wrong_password_and_unknown_user_get_the_same_401(anon: TestClient, make: Factory) -> None:
    operator = make.operator()
    wrong = anon.post(
        "/auth/staff/token", json={"username": operator.username, "password": "not it at all"}
    )
    unknown = anon.post(
        "/auth/staff/token", json={"username": "nobody-here", "password": STAFF_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


def test_disabled_account_is_refused(anon: TestClient, make: Factory) -> None:
    driver = make.driver(active=False)
    reply = anon.post(
        "/auth/staff/token", json={"username": driver.username, "password": STAFF_PASSWORD}
    )
    assert reply.status_code == 403
    assert reply.json()["detail"][0]["loc"] == ["body", "username"]


def test_username_is_case_insensitive(anon: TestClient, make: Factory) -> None:
    operator = make.operator()
    reply = anon.post(
        "/auth/staff/token",
        json={"username": f"  {operator.username.upper()} ", "password": STAFF_PASSWORD},
    )
    assert reply.status_code == 200


def test_malformed_staff_login_names_the_field(anon: TestClient) -> None:
    missing = anon.post("/auth/staff/token", json={"username": "someone"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    not_json = anon.post(
        "/auth/staff/token", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["loc"] == ["body"]
    form = anon.post("/auth/staff/token", data={"username": "someone"})
    assert form.status_code == 422
    assert form.json()["detail"][0]["loc"] == ["body", "password"]
    array = anon.post("/auth/staff/token", json=["someone", "pw"])
    assert array.status_code == 422


def test_operator_creates_lists_and_disables_accounts(
    client_for: ClientFor, make: Factory, anon: TestClient, db: Session
) -> None:
    operator = make.operator()
    client: TestClient = client_for(operator)

    created = client.post(
        "/staff",
        json={
            "username": "Ops.Zhang",
            "password": "a long passphrase",
            "role": "operator",
            "full_name": "Zhang Min",
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["username"] == "ops.zhang"
    assert (account["role"], account["active"], account["city_id"]) == (
        "operator",
        True,
        operator.city_id,
    )
    stored = db.get(StaffUser, account["id"])
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert "a long passphrase" not in stored.password_hash

    login = anon.post(
        "/auth/staff/token", json={"username": "ops.zhang", "password": "a long passphrase"}
    )
    assert login.status_code == 200
    new_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert anon.get("/staff", headers=new_headers).status_code == 200

    listed = client.get("/staff", params={"role": "operator"})
    assert {u["username"] for u in listed.json()} == {"ops.zhang", operator.username}

    disabled = client.patch(f"/staff/{account['id']}", json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    # Tokens issued before stop working at once; new logins are refused.
    assert anon.get("/staff", headers=new_headers).status_code == 401
    relogin = anon.post(
        "/auth/staff/token", json={"username": "ops.zhang", "password": "a long passphrase"}
    )
    assert relogin.status_code == 403
    assert [u["id"] for u in client.get("/staff", params={"active": "false"}).json()] == [
        account["id"]
    ]
    enabled = client.patch(f"/staff/{account['id']}", json={"active": True})
    assert enabled.json()["active"] is True
    # Re-enabling does not bring the revoked tokens back; a new login works.
    assert anon.get("/staff", headers=new_headers).status_code == 401
    again = anon.post(
        "/auth/staff/token", json={"username": "ops.zhang", "password": "a long passphrase"}
    )
    assert again.status_code == 200


def test_staff_creation_refuses_bad_input(client_for: ClientFor, make: Factory) -> None:
    operator = make.operator()
    client: TestClient = client_for(operator)
    cases = [
        (
            {"username": operator.username, "password": "long enough pw", "role": "driver"},
            409,
            "username",
        ),
        ({"username": "x y z", "password": "long enough pw", "role": "driver"}, 422, "username"),
        ({"username": "newdriver", "password": "short", "role": "driver"}, 422, "password"),
        ({"username": "newdriver", "password": "long enough pw", "role": "admin"}, 422, "role"),
        ({"username": "newdriver", "password": "long enough pw", "role": "resident"}, 422, "role"),
        (
            {"username": "newdriver", "password": "long enough pw", "role": "driver", "city_id": 9},
            422,
            "city_id",
        ),
    ]
    for body, status, field in cases:
        reply = client.post("/staff", json=body)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["body", field], body


def test_operator_cannot_disable_themselves(client_for: ClientFor, make: Factory) -> None:
    operator = make.operator()
    reply = client_for(operator).patch(f"/staff/{operator.id}", json={"active": False})
    assert reply.status_code == 422
    assert reply.json()["detail"][0]["loc"] == ["body", "active"]


def test_operators_see_only_their_citys_accounts(client_for: ClientFor, make: Factory) -> None:
    operator = make.operator()
    elsewhere = make.driver(city=make.city())
    client: TestClient = client_for(operator)
    assert client.get(f"/staff/{elsewhere.id}").status_code == 404
    assert client.patch(f"/staff/{elsewhere.id}", json={"active": False}).status_code == 404
    assert elsewhere.id not in [u["id"] for u in client.get("/staff").json()]


def test_password_reset_through_patch(
    client_for: ClientFor, make: Factory, anon: TestClient
) -> None:
    operator = make.operator()
    driver = make.driver()
    client: TestClient = client_for(operator)
    assert client.patch(f"/staff/{driver.id}", json={"password": "short"}).status_code == 422
    assert client.patch(f"/staff/{driver.id}", json={"password": None}).status_code == 422
    assert (
        client.patch(f"/staff/{driver.id}", json={"password": "brand new passphrase"}).status_code
        == 200
    )
    login = anon.post(
        "/auth/staff/token", json={"username": driver.username, "password": "brand new passphrase"}
    )
    assert login.status_code == 200


def test_staff_service_create_for_seed_code(db: Session, make: Factory) -> None:
    city = make.city()
    user = staff_service.create(
        db_session=db,
        city_id=city.id,
        username="Operator",
        password="demo operator pw",
        role="operator",
        full_name="Demo Operator",
    )
    assert (user.username, user.role, user.active) == ("operator", StaffRole.OPERATOR, True)
    assert verify_password(user.password_hash, "demo operator pw")
    assert (
        staff_service.authenticate(db_session=db, username="OPERATOR", password="demo operator pw")
        is user
    )
    with pytest.raises(Conflict) as duplicate:
        staff_service.create(
            db_session=db,
            city_id=city.id,
            username="operator",
            password="another pw!",
            role="driver",
        )
    assert duplicate.value.field == "username"
    with pytest.raises(InvalidInput) as no_city:
        staff_service.create(
            db_session=db,
            city_id=999_999,
            username="someone",
            password="another pw!",
            role="driver",
        )
    assert no_city.value.field == "city_id"
