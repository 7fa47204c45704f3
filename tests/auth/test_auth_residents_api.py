"""A resident's profile (/me) and operators' resident endpoints and service functions."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.core.enums import Language
from app.core.errors import Conflict, InvalidInput
from app.residents import service as residents_service
from tests.auth.conftest import fresh_phone
from tests.factories import Factory

ClientFor = Callable[[Any], TestClient]


def test_resident_reads_and_changes_their_profile(client_for: ClientFor, make: Factory) -> None:
    resident = make.resident(name="Old Name")
    client = client_for(resident)
    me = client.get("/me").json()
    assert (me["id"], me["name"], me["phone"]) == (resident.id, "Old Name", resident.phone)

    changed = client.patch(
        "/me", json={"name": "  Li Wei ", "language": "zh", "sms_consent": False}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["language"], changed.json()["sms_consent"]) == (
        "Li Wei",
        "zh",
        False,
    )
    # Fields left out stay as they are.
    only_consent = client.patch("/me", json={"sms_consent": True}).json()
    assert (only_consent["name"], only_consent["language"], only_consent["sms_consent"]) == (
        "Li Wei",
        "zh",
        True,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"neighborhood_id": 1}, "neighborhood_id"),
        ({"neighborhood_id": None}, "neighborhood_id"),
        ({"phone": "+8613912345678"}, "phone"),
        ({"language": "fr"}, "language"),
        ({"name": None}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"sms_consent": "perhaps"}, "sms_consent"),
        ({"is_admin": True}, "is_admin"),
    ],
)
def test_me_refuses_bad_changes_naming_the_field(
    client_for: ClientFor, make: Factory, body: dict[str, Any], field: str
) -> None:
    resident = make.resident()
    reply = client_for(resident).patch("/me", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"][0]["loc"] == ["body", field]


def test_neighborhood_change_is_refused_and_nothing_changes(
    client_for: ClientFor, make: Factory, db: Session
) -> None:
    resident = make.resident(name="Kept")
    other = make.neighborhood()
    reply = client_for(resident).patch("/me", json={"name": "New", "neighborhood_id": other.id})
    assert reply.status_code == 422
    assert "operator" in reply.json()["detail"][0]["msg"]
    db.refresh(resident)
    assert (resident.name, resident.neighborhood_id) != ("New", other.id)
    assert resident.name == "Kept"


def test_operator_registers_finds_and_moves_residents(client_for: ClientFor, make: Factory) -> None:
    operator = make.operator()
    hood, other_hood = make.neighborhood(), make.neighborhood()
    client = client_for(operator)

    created = client.post(
        "/residents",
        json={"phone": "+86 139 0000 7777", "neighborhood_id": hood.id, "name": "Wang Fang"},
    )
    assert created.status_code == 201, created.text
    resident = created.json()
    assert resident["phone"] == "+8613900007777"
    assert (resident["language"], resident["sms_consent"]) == ("en", True)

    by_phone = client.get("/residents", params={"phone": "+8613900007777"}).json()
    assert [r["id"] for r in by_phone] == [resident["id"]]
    in_hood = client.get("/residents", params={"neighborhood_id": hood.id}).json()
    assert [r["id"] for r in in_hood] == [resident["id"]]
    assert client.get(f"/residents/{resident['id']}").json() == resident

    moved = client.patch(f"/residents/{resident['id']}", json={"neighborhood_id": other_hood.id})
    assert moved.status_code == 200
    assert moved.json()["neighborhood_id"] == other_hood.id
    assert client.get("/residents", params={"neighborhood_id": hood.id}).json() == []


def test_operator_resident_endpoints_refuse_bad_input(client_for: ClientFor, make: Factory) -> None:
    operator = make.operator()
    existing = make.resident()
    hood = make.neighborhood()
    foreign_hood = make.neighborhood(city=make.city())
    client = client_for(operator)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"phone": existing.phone, "neighborhood_id": hood.id}, 409, "phone"),
        ({"phone": "12345", "neighborhood_id": hood.id}, 422, "phone"),
        ({"phone": fresh_phone(), "neighborhood_id": 999_999}, 422, "neighborhood_id"),
        ({"phone": fresh_phone(), "neighborhood_id": foreign_hood.id}, 422, "neighborhood_id"),
        ({"phone": fresh_phone(), "neighborhood_id": -1}, 422, "neighborhood_id"),
        ({"phone": fresh_phone(), "neighborhood_id": 10**30}, 422, "neighborhood_id"),
        ({"phone": fresh_phone()}, 422, "neighborhood_id"),
        ({"phone": fresh_phone(), "neighborhood_id": hood.id, "language": "de"}, 422, "language"),
    ]
    for body, status, field in cases:
        reply = client.post("/residents", json=body)
        assert reply.status_code == status, (body, reply.text)
        assert reply.json()["detail"][0]["loc"] == ["body", field], body

    assert client.get("/residents", params={"phone": "nonsense"}).status_code == 422
    assert client.get("/residents/99999999999999999999").status_code == 422
    assert client.get("/residents/2147483000").status_code == 404
    assert client.get("/residents", params={"limit": 10_000}).status_code == 422
    move = client.patch(f"/residents/{existing.id}", json={"neighborhood_id": 999_999})
    assert move.status_code == 422
    assert move.json()["detail"][0]["loc"] == ["body", "neighborhood_id"]


def test_residents_service_for_other_packages(db: Session, make: Factory) -> None:
    hood = make.neighborhood()
    resident = residents_service.create(
        db_session=db,
        phone="+86 139 0000 8888",
        neighborhood_id=hood.id,
        name="Zhao Lei",
        language=Language.ZH,
    )
    assert resident.phone == "+8613900008888"
    assert residents_service.get(db_session=db, resident_id=resident.id) is resident
    assert residents_service.get_by_phone(db_session=db, phone="+86 139-0000-8888") is resident
    assert residents_service.get_by_phone(db_session=db, phone=fresh_phone()) is None
    updated = residents_service.update(db_session=db, resident=resident, sms_consent=False)
    assert (updated.sms_consent, updated.name, updated.language) == (False, "Zhao Lei", Language.ZH)
    with pytest.raises(Conflict) as duplicate:
        residents_service.create(db_session=db, phone="+8613900008888", neighborhood_id=hood.id)
    assert duplicate.value.field == "phone"
    with pytest.raises(InvalidInput) as bad_phone:
        residents_service.get_by_phone(db_session=db, phone="555")
    assert bad_phone.value.field == "phone"
