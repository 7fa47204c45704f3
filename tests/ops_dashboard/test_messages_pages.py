"""The messages page: today's SMS by status, failures with their reasons, opt-outs, and resend
through the notifications service (once per failure, refused with the field named)."""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.residents.models import Resident
from app.staff.models import StaffUser
from notifications import service, tasks
from notifications.models import Message, MessageStatus
from tests.factories import Factory


def _message(
    db: Session, resident: Resident, key: str, status: MessageStatus, **kw: Any
) -> Message:
    message, _ = service.create(
        db_session=db,
        key=key,
        template="parcel_ready",
        resident=resident,
        params={"parcel_id": 7, "order_id": 5},
    )
    message.status = status
    message.final_at = utcnow()
    for name, value in kw.items():
        setattr(message, name, value)
    db.flush()
    return message


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    calls: list[list[int]] = []
    monkeypatch.setattr(tasks, "enqueue_sends", lambda ids: calls.append(list(ids)))
    return calls


def test_the_page_counts_today_and_names_the_reasons(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, operator: StaffUser, page_client_for
) -> None:
    resident = make.resident()
    _message(db, resident, "a", MessageStatus.DELIVERED)
    _message(db, resident, "b", MessageStatus.FAILED, error_code=30006, error_message="Landline")
    _message(
        db, resident, "c", MessageStatus.UNDELIVERED, error_code=30006, error_message="Landline"
    )
    quitter = make.resident()
    service.set_opt_out(
        db_session=db, phone=quitter.phone, opted_out=True, keyword="STOP", source="sms"
    )
    _message(db, quitter, "d", MessageStatus.QUEUED)  # created suppressed: opted out
    html = page_client_for(operator).get("/ops/messages").text
    assert '<div class="card" data-count="delivered">' in html
    count = html.split('data-count="failed"')[1].split('class="kpi">')[1].split("</div>")[0]
    assert count.strip().endswith("1")
    assert "30006 Landline" in html and html.count("Resend</button>") == 2
    assert resident.phone not in html and quitter.phone not in html
    assert "opted out" in html
    only_failed = page_client_for(operator).get("/ops/messages?show=failed").text
    assert only_failed.count("data-message-id=") == 2
    assert "/ops/parcels/7" in only_failed


def test_resend_goes_through_the_service_once_per_failure(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, operator: StaffUser, page_client_for, sent
) -> None:
    failed = _message(db, make.resident(), "f", MessageStatus.FAILED, error_code=30003)
    client = page_client_for(operator)
    answer = client.post(f"/ops/messages/{failed.id}/resend")
    assert answer.status_code == 303, answer.text
    copy = db.scalar(select(Message).where(Message.resent_from_id == failed.id))
    assert copy is not None and copy.status == MessageStatus.QUEUED and copy.params == failed.params
    assert sent == [[copy.id]] and f"resent={copy.id}" in answer.headers["location"]
    again = client.post(f"/ops/messages/{failed.id}/resend")
    assert again.status_code == 303
    copies = db.scalars(select(Message).where(Message.resent_from_id == failed.id)).all()
    assert len(copies) == 1
    page = client.get(answer.headers["location"]).text
    assert f"message #{copy.id} is in the outbox" in page
    row = page.split(f'data-message-id="{failed.id}"')[1].split("</tr>")[0]
    assert ">resent<" in row and "Resend</button>" not in row


def test_resend_refusals_name_the_field(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, operator: StaffUser, other_city_operator, page_client_for, sent
) -> None:
    delivered = _message(db, make.resident(), "g", MessageStatus.DELIVERED)
    client = page_client_for(operator)
    refused = client.post(f"/ops/messages/{delivered.id}/resend")
    assert refused.status_code == 409 and "message_id" in refused.text
    quitter = make.resident()
    failed = _message(db, quitter, "h", MessageStatus.FAILED)
    service.set_opt_out(
        db_session=db, phone=quitter.phone, opted_out=True, keyword="STOP", source="sms"
    )
    opted = client.post(f"/ops/messages/{failed.id}/resend")
    assert opted.status_code == 409 and "opted out" in opted.text
    other = page_client_for(other_city_operator).post(f"/ops/messages/{failed.id}/resend")
    assert other.status_code == 404 and "message_id" in other.text
    assert client.post("/ops/messages/abc/resend").status_code == 422
    assert sent == []


def test_bad_filters_name_the_field(page_client_for, operator: StaffUser) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(operator)
    for url, field in (
        ("/ops/messages?show=lost", "show"),
        ("/ops/messages?page=0", "page"),
        ("/ops/messages?template=nope", "template"),
        ("/ops/messages?message_id=x", "message_id"),
    ):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert field in answer.text, url
