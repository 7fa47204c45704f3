"""Operator endpoints over the outbox (their own city only), resend, settings; a resident's own."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.residents.models import Resident
from app.staff.models import StaffUser
from notifications import dispatch, service
from notifications.models import Message, MessageStatus
from simulation.twilio_server import FakeTwilio
from tests.factories import Factory
from tests.notifications.conftest import World, queued_tasks

Deliver = Callable[[int], str]


def _failed_message(db: Session, world: World, deliver: Deliver, resident: Resident) -> Message:
    world.order_event(resident)
    (message_id,) = dispatch.consume(db_session=db).to_send
    assert deliver(message_id) == "failed"
    db.expire_all()
    message = db.get(Message, message_id)
    assert message is not None
    return message


def test_operators_list_their_citys_messages_only(
    db: Session,
    world: World,
    make: Factory,
    client_for: Callable[[Resident | StaffUser], TestClient],
) -> None:
    here = make.default_city()
    elsewhere = make.city()
    mine = world.resident(neighborhood=make.neighborhood(here))
    theirs = world.resident(neighborhood=make.neighborhood(elsewhere))
    world.order_event(mine)
    world.order_event(theirs)
    dispatch.consume(db_session=db)
    operator = make.operator(city=here)
    other_operator = make.operator(city=elsewhere)
    client = client_for(operator)

    listed = client.get("/notifications/messages").json()
    assert [m["resident_id"] for m in listed] == [mine.id]
    assert listed[0]["status"] == "queued" and listed[0]["template"] == "group_formed"
    message_id = listed[0]["id"]
    assert client.get(f"/notifications/messages/{message_id}").status_code == 200
    assert (
        client_for(other_operator).get(f"/notifications/messages/{message_id}").status_code == 404
    )
    filtered = client.get("/notifications/messages", params={"status": "failed"}).json()
    assert filtered == []


def test_residents_and_anonymous_callers_cannot_read_the_outbox(
    client_for: Callable[[Resident | StaffUser], TestClient],
    world: World,
    anon_client: TestClient,
) -> None:
    assert anon_client.get("/notifications/messages").status_code == 401
    assert client_for(world.resident()).get("/notifications/messages").status_code == 403


def test_failures_summary_and_resend(
    db: Session,
    world: World,
    make: Factory,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    client_for: Callable[[Resident | StaffUser], TestClient],
) -> None:
    resident = world.resident(neighborhood=make.neighborhood(make.default_city()))
    fake_twilio.fail_next(400, 21612, "cannot route")
    failed = _failed_message(db, world, deliver, resident)
    client = client_for(make.operator())

    failures = client.get("/notifications/failures").json()
    assert [(m["id"], m["error_code"]) for m in failures] == [(failed.id, 21612)]
    summary = client.get("/notifications/summary").json()
    assert summary["by_status"] == {"failed": 1}
    assert summary["failed_by_error_code"] == {"21612": 1}

    response = client.post(f"/notifications/messages/{failed.id}/resend")
    assert response.status_code == 201
    copy = response.json()
    assert copy["status"] == "queued" and copy["resent_from_id"] == failed.id
    assert copy["idempotency_key"] == f"{failed.idempotency_key}#resend-of-{failed.id}"
    again = client.post(f"/notifications/messages/{failed.id}/resend").json()
    assert again["id"] == copy["id"]  # one resend per failure, however often it is clicked
    assert queued_tasks() == [("notifications.send_message", [copy["id"]])] * 2
    assert deliver(copy["id"]) == "sent"
    assert len(fake_twilio.accepted()) == 1


def test_only_failed_messages_can_be_resent(
    db: Session,
    world: World,
    make: Factory,
    client_for: Callable[[Resident | StaffUser], TestClient],
) -> None:
    resident = world.resident(neighborhood=make.neighborhood(make.default_city()))
    world.order_event(resident)
    (message_id,) = dispatch.consume(db_session=db).to_send
    response = client_for(make.operator()).post(f"/notifications/messages/{message_id}/resend")
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["path", "message_id"]


def test_no_resend_to_a_resident_who_opted_out(
    db: Session,
    world: World,
    make: Factory,
    fake_twilio: FakeTwilio,
    deliver: Deliver,
    client_for: Callable[[Resident | StaffUser], TestClient],
) -> None:
    resident = world.resident(neighborhood=make.neighborhood(make.default_city()))
    world.order_event(resident)
    (message_id,) = dispatch.consume(db_session=db).to_send
    db.execute(update(Message).where(Message.id == message_id).values(status=MessageStatus.FAILED))
    service.set_opt_out(
        db_session=db, phone=resident.phone, opted_out=True, keyword="STOP", source="inbound"
    )
    response = client_for(make.operator()).post(f"/notifications/messages/{message_id}/resend")
    assert response.status_code == 409
    assert "opted out" in response.json()["detail"][0]["msg"]


def test_settings_per_city(
    make: Factory, client_for: Callable[[Resident | StaffUser], TestClient]
) -> None:
    client = client_for(make.operator())
    defaults = client.get("/notifications/settings").json()
    assert (defaults["quiet_start"], defaults["quiet_end"]) == ("21:00", "08:00")
    assert defaults["timezone"] == "Asia/Shanghai"
    changed = client.patch(
        "/notifications/settings", json={"quiet_start": "22:30:00", "nudge_max_gap": 5}
    ).json()
    assert (changed["quiet_start"], changed["quiet_end"], changed["nudge_max_gap"]) == (
        "22:30",
        "08:00",
        5,
    )
    other = client_for(make.operator(city=make.city())).get("/notifications/settings").json()
    assert other["quiet_start"] == "21:00"
    assert client.patch("/notifications/settings", json={"quiet_start": None}).status_code == 422
    assert client.patch("/notifications/settings", json={"colour": "red"}).status_code == 422


def test_a_resident_sees_their_own_messages_masked(
    db: Session,
    world: World,
    deliver: Deliver,
    client_for: Callable[[Resident | StaffUser], TestClient],
) -> None:
    parcel = world.parcel()
    other = world.resident()
    world.ready_event(parcel)
    world.order_event(other)
    for message_id in dispatch.consume(db_session=db).to_send:
        deliver(message_id)
    resident = db.get(Resident, parcel.resident_id)
    assert resident is not None
    mine = client_for(resident).get("/notifications/me/messages").json()
    assert [m["template"] for m in mine] == ["parcel_ready"]
    assert "Code ******." in mine[0]["body_redacted"]
    theirs = db.scalars(select(Message).where(Message.resident_id == other.id)).one()
    assert theirs.id not in [m["id"] for m in mine]


def test_operator_sees_inbound_of_their_city(
    db: Session,
    world: World,
    make: Factory,
    client_for: Callable[[Resident | StaffUser], TestClient],
    anon_client: TestClient,
) -> None:
    from tests.notifications.test_notifications_webhooks import INBOUND_PATH, signed_post

    resident = world.resident(neighborhood=make.neighborhood(make.default_city()))
    stranger = world.resident(neighborhood=make.neighborhood(make.city()))
    for phone, sid in ((resident.phone, "SMa"), (stranger.phone, "SMb")):
        signed_post(anon_client, INBOUND_PATH, {"MessageSid": sid, "From": phone, "Body": "STOP"})
    listed = client_for(make.operator()).get("/notifications/inbound").json()
    assert [(i["from_phone"], i["keyword"]) for i in listed] == [(resident.phone, "stop")]
