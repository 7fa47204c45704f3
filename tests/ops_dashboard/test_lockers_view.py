"""The lockers pages: every bank, one bank's grid, remote open with its confirmation, out of
service, resync, and refusals that name the field."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from lockers import temperature_log
from lockers.models import AuditLog, LockerBankState, LockerCommand, LockerEvent
from logistics.models import ParcelStatus
from tests.factories import Factory
from tests.lockers.conftest import World, build_world


@pytest.fixture
def w(db: Session) -> World:
    world = build_world(db, None)  # type: ignore[arg-type]
    db.add(
        LockerBankState(
            bank_id=world.bank.id,
            online=True,
            last_seen_at=utcnow(),
            state={
                "zones": {"chilled": 3.2, "frozen": -19.0, "ambient": 21.0},
                "compartments": {"A2": {"door": "open"}},
            },
        )
    )
    db.flush()
    return world


def test_the_list_shows_state_occupancy_and_temperatures(w: World, page_client_for) -> None:  # type: ignore[no-untyped-def]
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    for hours, temp in ((5, 2.0), (3, 6.5), (1, 3.0)):
        temperature_log.record(
            db_session=w.db,
            bank_id=w.bank.id,
            zones={"chilled": temp},
            at=utcnow() - timedelta(hours=hours),
        )
    client = page_client_for(w.operator)
    html = client.get("/ops/lockers").text
    chilled_line = html.split('title="chilled"')[1].split('<polyline points="')[1].split('"')[0]
    assert len(chilled_line.split()) == 4  # three samples and the reading now
    assert w.bank.code in html and "online" in html and "3.2°C" in html
    assert '<svg class="sparkline"' in html
    assert w.bank.code in client.get("/ops/lockers?show=parcels").text
    assert w.bank.code not in client.get("/ops/lockers?show=offline").text
    assert w.bank.code not in client.get("/ops/lockers?show=cold").text
    assert client.get("/ops/lockers?show=bogus").status_code == 422
    assert w.bank.code in client.get("/ops/lockers/table?show=all").text


def test_the_grid_has_one_state_per_compartment(w: World, page_client_for) -> None:  # type: ignore[no-untyped-def]
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    w.parcel("A3")
    html = page_client_for(w.operator).get(f"/ops/lockers/{w.bank.id}").text
    assert 'data-compartment="A1" data-state="occupied"' in html
    assert 'data-compartment="A3" data-state="reserved"' in html
    assert 'data-compartment="R1" data-state="free"' in html
    assert "c-door_open" in html.split('data-compartment="A2"')[0].rsplit("<div", 1)[1]


def test_remote_open_waits_then_is_confirmed_by_the_door_event(  # type: ignore[no-untyped-def]
    w: World, db: Session, page_client_for
) -> None:
    client = page_client_for(w.operator)
    answer = client.post(
        f"/ops/lockers/{w.bank.id}/open",
        data={"compartment_id": str(w.compartments["A1"].id), "reason": "resident locked out"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    command = db.scalar(select(LockerCommand).where(LockerCommand.bank_id == w.bank.id))
    assert command is not None and f"command={command.id}" in answer.headers["location"]
    audit = db.scalar(select(AuditLog).where(AuditLog.command_id == command.id))
    assert audit is not None and audit.reason == "resident locked out"
    page = client.get(answer.headers["location"]).text
    assert 'data-stage="waiting"' in page and "waiting for the locker" in page
    db.add(
        LockerEvent(
            bank_id=w.bank.id,
            event_id="evt-door-1",
            type="door_opened",
            seq=1,
            locker_ts=utcnow(),
            received_at=utcnow() + timedelta(seconds=1),
            payload={"compartment": "A1", "command_id": command.id},
        )
    )
    db.flush()
    status = client.get(f"/ops/lockers/{w.bank.id}/commands/{command.id}").text
    assert 'data-stage="confirmed"' in status and "confirmed by the door event" in status
    assert "hx-get" not in status  # no more polling once confirmed


def test_out_of_service_moves_the_reservation(w: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    parcel = w.parcel("A1")
    client = page_client_for(w.operator)
    answer = client.post(
        f"/ops/lockers/{w.bank.id}/out-of-service",
        data={"compartment_id": str(w.compartments["A1"].id), "reason": "hinge", "action": "out"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    db.refresh(parcel)
    assert parcel.compartment_id != w.compartments["A1"].id and parcel.compartment_id is not None
    html = client.get(answer.headers["location"]).text
    assert 'data-compartment="A1" data-state="out_of_service"' in html


def test_resync_queues_commands_and_is_audited(w: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    answer = page_client_for(w.operator).post(
        f"/ops/lockers/{w.bank.id}/resync",
        data={"reason": "after power cut"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert db.scalar(select(AuditLog).where(AuditLog.action == "resync"))
    assert db.scalar(select(LockerCommand).where(LockerCommand.purpose == "resync"))


@pytest.mark.parametrize(
    ("path", "data", "field", "code"),
    [
        ("open", {"compartment_id": "A1", "reason": "x"}, "compartment_id", 422),
        ("open", {"compartment_id": "{A1}", "reason": ""}, "reason", 422),
        ("open", {"compartment_id": "999999", "reason": "stuck door"}, "compartment_id", 404),
        ("out-of-service", {"compartment_id": "{A1}", "reason": "x"}, "reason", 422),
        (
            "out-of-service",
            {"compartment_id": "{A1}", "reason": "hinge", "action": "up"},
            "action",
            422,
        ),
        ("resync", {"reason": ""}, "reason", 422),
    ],
)
def test_bad_input_names_the_field(  # type: ignore[no-untyped-def]
    w: World, page_client_for, path: str, data: dict[str, str], field: str, code: int
) -> None:
    form = {k: v.replace("{A1}", str(w.compartments["A1"].id)) for k, v in data.items()}
    answer = page_client_for(w.operator).post(f"/ops/lockers/{w.bank.id}/{path}", data=form)
    assert answer.status_code == code
    assert field in answer.text and 'role="alert"' in answer.text


def test_an_offline_bank_refuses_a_remote_open(w: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    state = db.get(LockerBankState, w.bank.id)
    assert state is not None
    state.online = False
    db.flush()
    answer = page_client_for(w.operator).post(
        f"/ops/lockers/{w.bank.id}/open",
        data={"compartment_id": str(w.compartments["A1"].id), "reason": "stuck door"},
    )
    assert answer.status_code == 409 and "bank_id" in answer.text


def test_another_citys_bank_is_not_found(w: World, make: Factory, page_client_for) -> None:  # type: ignore[no-untyped-def]
    stranger = make.operator(city=make.city())
    assert page_client_for(stranger).get(f"/ops/lockers/{w.bank.id}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ops/lockers"),
        ("GET", "/ops/lockers/table"),
        ("GET", "/ops/lockers/1"),
        ("GET", "/ops/lockers/1/grid"),
        ("GET", "/ops/lockers/1/commands/1"),
        ("POST", "/ops/lockers/1/open"),
        ("POST", "/ops/lockers/1/out-of-service"),
        ("POST", "/ops/lockers/1/resync"),
    ],
)
def test_only_operators_reach_the_lockers_pages(  # type: ignore[no-untyped-def]
    make: Factory, page_client_for, method: str, path: str
) -> None:
    assert page_client_for(None).request(method, path).status_code == 303
    assert page_client_for(make.resident()).request(method, path).status_code == 403
    assert page_client_for(make.driver()).request(method, path).status_code == 403
