"""The demo's terminal: the resident's login code stands out; a nudge pass to hundreds of
residents prints one summary line, not hundreds of SMS; every message stays in the outbox."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.auth import service as auth_service
from app.core.settings import get_settings
from app.core.sms import ConsoleOutbox, ConsolePhone
from app.seed import demo
from app.seed.cli import show_sms_in_full_to
from app.windows.models import DeliveryWindow
from notifications import delivery, nudge
from notifications.models import Message
from notifications.providers import ConsoleProvider

# 10:00 in Shanghai: the morning cut-off has passed, the evening one (13:00) is ahead.
NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def watched_settings(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SMS_CONSOLE_PHONES", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_nudge_pass_is_summed_up_and_the_login_code_stands_out(db, watched_settings) -> None:  # type: ignore[no-untyped-def]
    seeded = demo.seed_demo(db_session=db, now=NOW)
    show_sms_in_full_to(seeded.resident_phone)
    db.commit()
    evening = db.scalars(
        select(DeliveryWindow)
        .where(DeliveryWindow.city_id == seeded.city_id, DeliveryWindow.cutoff_at > NOW)
        .order_by(DeliveryWindow.cutoff_at)
        .limit(1)
    ).one()
    screen = io.StringIO()
    phone = ConsolePhone(Console(file=screen, width=200), summary_seconds=3600)

    message_ids = nudge.scan(db_session=db, now=evening.cutoff_at - timedelta(hours=1))
    db.commit()
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    outcomes = delivery.deliver_batch(
        session_factory=factory, message_ids=message_ids, provider=ConsoleProvider(phone)
    )
    issued = auth_service.request_login_code(db_session=db, phone=seeded.resident_phone)
    auth_service.send_login_code(issued=issued, sender=ConsoleOutbox(phone=phone))
    phone.flush()

    assert len(message_ids) > 100, "the demo city's nudge pass reaches hundreds of residents"
    assert len(outcomes) == len(message_ids)
    lines = screen.getvalue().splitlines()
    assert len(lines) < 10, lines[:20]
    code_lines = [line for line in lines if "LOGIN CODE" in line]
    assert len(code_lines) == 1
    assert seeded.resident_phone in code_lines[0] and issued.code in code_lines[0]
    summary = [line for line in lines if "not shown" in line]
    hidden = len(message_ids) - sum("SMS to" in line for line in lines if line not in code_lines)
    assert len(summary) == 1 and f"SMS: {hidden} more sent" in summary[0]
    assert "pickup notifications outbox" in summary[0]
    stored = _stored(db, message_ids)
    assert len(stored) == len(message_ids), "every message stays readable in the outbox"


def test_messages_to_the_demo_resident_print_in_full(db, watched_settings) -> None:  # type: ignore[no-untyped-def]
    show_sms_in_full_to("+8613800000001")
    screen = io.StringIO()
    phone = ConsolePhone(Console(file=screen, width=200), summary_seconds=3600)
    provider = ConsoleProvider(phone)
    provider.send(to="+8613800000001", body="Your parcel is ready", status_callback=None)
    provider.send(to="+8613800000002", body="A nudge", status_callback=None)
    provider.send(to="+8613800000003", body="Another nudge", status_callback=None)
    phone.flush()
    text = screen.getvalue()
    assert "SMS to +8613800000001: Your parcel is ready" in text
    assert "A nudge" not in text and "SMS: 2 more sent to 2 phones" in text


def _stored(db: Session, ids: list[int]) -> list[int]:
    return list(db.scalars(select(Message.id).where(Message.id.in_(ids))))
