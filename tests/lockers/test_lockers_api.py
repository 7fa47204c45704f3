"""Locker endpoints: who may call what (roles, other cities, other residents' parcels), and the
refusals that need no broker (a bank that never came online)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import OutboxEvent
from lockers import codes, command_queue, domain_events, protocol
from lockers.models import LockerCommand
from logistics.models import ParcelStatus
from tests.lockers.conftest import World, build_world


def _replanned(db: Session, parcel_id: int) -> int:
    """How many re-plan requests the outbox holds for one parcel."""
    events = db.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == domain_events.PARCEL_REPLAN_NEEDED)
    )
    return sum(1 for e in events if e.payload["parcel_id"] == parcel_id)


@pytest.fixture
def w(db: Session) -> World:
    """A world inside the test's rolled-back transaction."""
    return build_world(db, None)  # type: ignore[arg-type]


def test_every_endpoint_needs_a_token(anon_client: TestClient, w: World) -> None:
    parcel = w.parcel("A1")
    calls = [
        ("post", f"/lockers/parcels/{parcel.id}/deposit"),
        ("post", f"/lockers/parcels/{parcel.id}/retrieve"),
        ("post", f"/lockers/parcels/{parcel.id}/extend"),
        ("get", "/lockers/my-parcels"),
        ("get", "/lockers/retrievals"),
        ("get", "/lockers/commands/x"),
        ("get", "/lockers/banks"),
        ("get", f"/lockers/banks/{w.bank.id}/state"),
        ("get", f"/lockers/banks/{w.bank.id}/audit"),
        ("get", f"/lockers/banks/{w.bank.id}/events"),
        ("post", f"/lockers/banks/{w.bank.id}/compartments/1/open"),
        ("post", f"/lockers/banks/{w.bank.id}/compartments/1/out-of-service"),
    ]
    for method, path in calls:
        assert getattr(anon_client, method)(path).status_code == 401, path


def test_deposit_is_for_drivers(client_for: Callable[[Any], TestClient], w: World) -> None:
    parcel = w.parcel("A1")
    for user in (w.resident, w.operator):
        response = client_for(user).post(f"/lockers/parcels/{parcel.id}/deposit")
        assert response.status_code == 403


def test_driver_of_another_city_sees_no_parcel(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    parcel = w.parcel("A1")
    stranger = w.make.driver(city=w.make.city())
    response = client_for(stranger).post(f"/lockers/parcels/{parcel.id}/deposit")
    assert response.status_code == 404


def test_offline_bank_refuses_the_deposit_and_replans(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    parcel = w.parcel("A1")
    response = client_for(w.driver).post(f"/lockers/parcels/{parcel.id}/deposit")
    assert response.status_code == 409
    body = response.json()["detail"][0]
    assert body["loc"] == ["path", "parcel_id"]
    assert w.bank.code in body["msg"]
    assert _replanned(db, parcel.id) == 1
    assert db.scalars(select(LockerCommand).where(LockerCommand.parcel_id == parcel.id)).all() == []


def test_operator_endpoints_refuse_drivers_and_residents(
    client_for: Callable[[Any], TestClient], w: World
) -> None:
    a1 = w.compartments["A1"]
    for user in (w.driver, w.resident):
        client = client_for(user)
        assert client.get("/lockers/banks").status_code == 403
        assert client.get(f"/lockers/banks/{w.bank.id}/state").status_code == 403
        opened = client.post(
            f"/lockers/banks/{w.bank.id}/compartments/{a1.id}/open", json={"reason": "just because"}
        )
        assert opened.status_code == 403


def test_operator_of_another_city_cannot_see_or_open_the_bank(
    client_for: Callable[[Any], TestClient], w: World
) -> None:
    other = client_for(w.make.operator(city=w.make.city()))
    a1 = w.compartments["A1"]
    assert other.get(f"/lockers/banks/{w.bank.id}/state").status_code == 404
    assert (
        other.post(
            f"/lockers/banks/{w.bank.id}/compartments/{a1.id}/open",
            json={"reason": "curious operator"},
        ).status_code
        == 404
    )
    assert other.get("/lockers/banks").json() == []


def test_remote_open_needs_a_reason_and_an_online_bank(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    client = client_for(w.operator)
    a1 = w.compartments["A1"]
    no_reason = client.post(f"/lockers/banks/{w.bank.id}/compartments/{a1.id}/open", json={})
    assert no_reason.status_code == 422
    offline = client.post(
        f"/lockers/banks/{w.bank.id}/compartments/{a1.id}/open", json={"reason": "stuck parcel"}
    )
    assert offline.status_code == 409 and w.bank.code in offline.json()["detail"][0]["msg"]
    other_bank = w.make.locker_bank(w.hood)
    foreign = w.make.compartment(other_bank)
    wrong = client.post(
        f"/lockers/banks/{w.bank.id}/compartments/{foreign.id}/open", json={"reason": "wrong bank"}
    )
    assert wrong.status_code == 404


def test_out_of_service_is_audited_and_queued_even_offline(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    parcel = w.parcel("A2")
    a2 = w.compartments["A2"]
    client = client_for(w.operator)
    response = client.post(
        f"/lockers/banks/{w.bank.id}/compartments/{a2.id}/out-of-service",
        json={"out_of_service": True, "reason": "door sensor broken"},
    )
    assert response.status_code == 200 and response.json()["status"] == "out_of_service"
    commands = db.scalars(select(LockerCommand).where(LockerCommand.bank_id == w.bank.id)).all()
    assert [(c.kind, c.payload) for c in commands] == [
        ("set_out_of_service", {"compartment": "A2", "out_of_service": True})
    ]
    audit = client.get(f"/lockers/banks/{w.bank.id}/audit").json()
    assert audit[0]["action"] == "out_of_service" and audit[0]["actor_id"] == w.operator.id
    assert _replanned(db, parcel.id) == 1
    back = client.post(
        f"/lockers/banks/{w.bank.id}/compartments/{a2.id}/out-of-service",
        json={"out_of_service": False, "reason": "sensor replaced"},
    )
    assert back.json()["status"] == "reserved"  # the parcel still awaits it


def test_my_parcels_shows_only_mine_with_code_when_ready(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    mine = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    on_the_way = w.parcel("A2")
    neighbour = w.make.resident(w.hood)
    theirs = w.parcel("A3", resident=neighbour, status=ParcelStatus.READY_FOR_PICKUP)
    for parcel in (mine, theirs):
        codes.ensure_pickup_code(db_session=db, parcel=parcel)

    listing = client_for(w.resident).get("/lockers/my-parcels").json()

    by_id = {p["parcel_id"]: p for p in listing}
    assert set(by_id) == {mine.id, on_the_way.id}
    ready = by_id[mine.id]
    assert ready["pickup_code"] == codes.pickup_code_for_parcel(db_session=db, parcel_id=mine.id)
    assert ready["compartment"] == "A1" and ready["address"] == "1 Test Road"
    assert ready["timezone"] == "Asia/Shanghai" and ready["pickup_deadline"].endswith("+08:00")
    assert ready["qr_text"].startswith(f"PKP1:{w.bank.code}:{mine.id}:")
    assert by_id[on_the_way.id]["pickup_code"] is None


def test_a_resident_cannot_extend_someone_elses_parcel(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    neighbour = w.make.resident(w.hood)
    theirs = w.parcel("A3", resident=neighbour, status=ParcelStatus.READY_FOR_PICKUP)
    codes.ensure_pickup_code(db_session=db, parcel=theirs)
    response = client_for(w.resident).post(f"/lockers/parcels/{theirs.id}/extend")
    assert response.status_code == 404
    assert client_for(w.driver).post(f"/lockers/parcels/{theirs.id}/extend").status_code == 403


def test_commands_are_visible_to_their_driver_and_operators_only(
    client_for: Callable[[Any], TestClient], w: World, db: Session
) -> None:
    parcel = w.parcel("A1")
    command = command_queue.queue_command(
        db_session=db,
        bank_id=w.bank.id,
        kind=protocol.CommandType.OPEN_COMPARTMENT,
        args={"compartment": "A1", "purpose": "deposit", "parcel_id": parcel.id},
        ttl_seconds=60,
        purpose="deposit",
        parcel_id=parcel.id,
        requested_by_id=w.driver.id,
    )
    other_driver = w.make.driver()
    assert client_for(w.driver).get(f"/lockers/commands/{command.id}").status_code == 200
    assert client_for(w.operator).get(f"/lockers/commands/{command.id}").status_code == 200
    assert client_for(other_driver).get(f"/lockers/commands/{command.id}").status_code == 404
    assert client_for(w.resident).get(f"/lockers/commands/{command.id}").status_code == 403


def test_extension_refused_when_not_in_a_locker(
    client_for: Callable[[Any], TestClient], w: World
) -> None:
    parcel = w.parcel("A1", deadline=utcnow() + timedelta(hours=3))
    response = client_for(w.resident).post(f"/lockers/parcels/{parcel.id}/extend")
    assert response.status_code == 409
    assert "reserved" in response.json()["detail"][0]["msg"]
