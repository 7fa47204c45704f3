"""Twilio's callbacks and inbound SMS, signed (and forged) with Twilio's own RequestValidator."""

from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from notifications import dispatch, service
from notifications.models import InboundMessage, Message, MessageStatus
from simulation.twilio_server import FakeTwilio
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, World

STATUS_PATH = "/notifications/webhooks/twilio/status"
INBOUND_PATH = "/notifications/webhooks/twilio/inbound"
Post = Callable[..., object]


def signed_post(
    client: TestClient,
    path: str,
    params: dict[str, str],
    *,
    query: str = "",
    token: str = AUTH_TOKEN,
    signature: str | None = None,
):  # type: ignore[no-untyped-def]
    """POST as Twilio does: form body, X-Twilio-Signature over the public URL and the fields."""
    url = f"{PUBLIC_BASE_URL}{path}{'?' + query if query else ''}"
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        f"{path}{'?' + query if query else ''}",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )


def _sent_message(db: Session, world: World, deliver: Callable[[int], str]) -> Message:
    world.order_event(world.resident())
    (message_id,) = dispatch.consume(db_session=db).to_send
    assert deliver(message_id) == "sent"
    db.expire_all()
    message = db.get(Message, message_id)
    assert message is not None and message.provider_sid is not None
    return message


def _callback(message: Message, status: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": str(message.provider_sid),
        "SmsSid": str(message.provider_sid),
        "MessageStatus": status,
        "SmsStatus": status,
        "To": message.to_phone,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def _reload(db: Session, message: Message) -> Message:
    db.expire_all()
    fresh = db.get(Message, message.id)
    assert fresh is not None
    return fresh


def test_a_genuine_status_callback_updates_the_message(
    db: Session, world: World, deliver: Callable[[int], str], anon_client: TestClient
) -> None:
    message = _sent_message(db, world, deliver)
    response = signed_post(anon_client, STATUS_PATH, _callback(message, "delivered"))
    assert response.status_code == 204
    fresh = _reload(db, message)
    assert (fresh.status, fresh.provider_status) == (MessageStatus.DELIVERED, "delivered")
    assert fresh.final_at is not None


@pytest.mark.parametrize(
    "forgery",
    ["wrong token", "tampered field", "no signature", "other url"],
)
def test_a_forged_status_callback_is_refused_with_403(
    db: Session,
    world: World,
    deliver: Callable[[int], str],
    anon_client: TestClient,
    forgery: str,
) -> None:
    message = _sent_message(db, world, deliver)
    params = _callback(message, "failed", ErrorCode="30007")
    if forgery == "wrong token":
        response = signed_post(anon_client, STATUS_PATH, params, token="guessed-token")
    elif forgery == "tampered field":
        genuine = RequestValidator(AUTH_TOKEN).compute_signature(
            f"{PUBLIC_BASE_URL}{STATUS_PATH}", _callback(message, "delivered")
        )
        response = signed_post(anon_client, STATUS_PATH, params, signature=genuine)
    elif forgery == "no signature":
        response = signed_post(anon_client, STATUS_PATH, params, signature="")
    else:
        other = RequestValidator(AUTH_TOKEN).compute_signature(
            f"{PUBLIC_BASE_URL}{INBOUND_PATH}", params
        )
        response = signed_post(anon_client, STATUS_PATH, params, signature=other)
    assert response.status_code == 403
    assert response.json()["detail"][0]["msg"] == "invalid Twilio signature"
    assert _reload(db, message).status is MessageStatus.SENT


def test_callbacks_never_move_a_message_backwards(
    db: Session, world: World, deliver: Callable[[int], str], anon_client: TestClient
) -> None:
    message = _sent_message(db, world, deliver)
    for status in ("delivered", "sent", "queued", "sent", "delivered"):
        assert signed_post(anon_client, STATUS_PATH, _callback(message, status)).status_code == 204
    fresh = _reload(db, message)
    assert (fresh.status, fresh.provider_status) == (MessageStatus.DELIVERED, "delivered")


def test_callbacks_in_order_walk_the_statuses(
    db: Session, world: World, deliver: Callable[[int], str], anon_client: TestClient
) -> None:
    message = _sent_message(db, world, deliver)
    seen = []
    for status in ("queued", "sent", "undelivered"):
        extra = {"ErrorCode": "30003"} if status == "undelivered" else {}
        signed_post(anon_client, STATUS_PATH, _callback(message, status, **extra))
        fresh = _reload(db, message)
        seen.append((fresh.status.value, fresh.provider_status))
    assert seen == [
        ("sent", "queued"),
        ("sent", "sent"),
        ("undelivered", "undelivered"),
    ]
    assert _reload(db, message).error_code == 30003


def test_a_callback_carries_the_key_so_a_lost_sid_is_found(
    db: Session, world: World, anon_client: TestClient, fake_twilio: FakeTwilio
) -> None:
    """The worker died before storing Twilio's SID; the callback URL's key finds the message."""
    world.order_event(world.resident())
    (message_id,) = dispatch.consume(db_session=db).to_send
    message = db.get(Message, message_id)
    assert message is not None
    message.status = MessageStatus.SENDING
    db.flush()
    params = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": "SM" + "a" * 32,
        "MessageStatus": "sent",
        "To": message.to_phone,
    }
    query = urlencode({"k": message.idempotency_key})
    assert signed_post(anon_client, STATUS_PATH, params, query=query).status_code == 204
    fresh = _reload(db, message)
    assert (fresh.provider_sid, fresh.sid_source, fresh.status) == (
        "SM" + "a" * 32,
        "callback",
        MessageStatus.SENT,
    )


def test_a_callback_for_an_unknown_message_is_acknowledged(anon_client: TestClient) -> None:
    params = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "b" * 32, "MessageStatus": "sent"}
    assert signed_post(anon_client, STATUS_PATH, params).status_code == 204


def _inbound(phone: str, body: str, sid: str, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def test_stop_opts_out_and_start_opts_back_in(
    db: Session, world: World, anon_client: TestClient, fake_twilio: FakeTwilio
) -> None:
    resident = world.resident()
    response = signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, " stop ", "SM1"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Message>" not in response.text  # Twilio itself confirms its own keywords
    assert service.is_opted_out(db_session=db, phone=resident.phone)

    world.order_event(resident)
    assert dispatch.consume(db_session=db).to_send == []  # suppressed, never sent
    assert db.scalars(select(Message.status)).one() is MessageStatus.SUPPRESSED

    signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, "START", "SM2"))
    assert not service.is_opted_out(db_session=db, phone=resident.phone)
    world.order_event(resident)
    assert len(dispatch.consume(db_session=db).to_send) == 1
    inbound = db.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [(m.keyword, m.resident_id) for m in inbound] == [
        ("stop", resident.id),
        ("start", resident.id),
    ]


@pytest.mark.parametrize("word", ["退订", "TD", "取消订阅"])
def test_chinese_stop_words_opt_out_and_are_answered_in_chinese(
    db: Session, world: World, anon_client: TestClient, word: str
) -> None:
    resident = world.resident()
    response = signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, word, "SM3"))
    assert service.is_opted_out(db_session=db, phone=resident.phone)
    assert "<Message>【Pickup】您已退订" in response.text


def test_help_is_answered_and_changes_nothing(
    db: Session, world: World, anon_client: TestClient
) -> None:
    resident = world.resident()
    response = signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, "帮助", "SM4"))
    assert "回复“退订”停止短信" in response.text
    response = signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, "HELP", "SM5"))
    assert "<Message>" not in response.text  # Twilio answers HELP itself
    assert not service.is_opted_out(db_session=db, phone=resident.phone)


def test_twilio_advanced_opt_out_type_decides(
    db: Session, world: World, anon_client: TestClient
) -> None:
    resident = world.resident()
    params = _inbound(resident.phone, "arrêter", "SM6", OptOutType="STOP")
    signed_post(anon_client, INBOUND_PATH, params)
    assert service.is_opted_out(db_session=db, phone=resident.phone)


def test_other_words_are_recorded_redacted_and_change_nothing(
    db: Session, world: World, anon_client: TestClient
) -> None:
    resident = world.resident()
    body = "please stop the delivery of code 123456"
    signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, body, "SM7"))
    assert not service.is_opted_out(db_session=db, phone=resident.phone)
    stored = db.scalars(select(InboundMessage)).one()
    assert stored.keyword is None and "123456" not in stored.body_redacted


def test_a_forged_stop_is_refused(db: Session, world: World, anon_client: TestClient) -> None:
    resident = world.resident()
    params = _inbound(resident.phone, "STOP", "SM8")
    response = signed_post(anon_client, INBOUND_PATH, params, token="not-our-token")
    assert response.status_code == 403
    assert not service.is_opted_out(db_session=db, phone=resident.phone)
    assert db.scalars(select(InboundMessage)).all() == []


def test_a_repeated_inbound_is_recorded_once(
    db: Session, world: World, anon_client: TestClient
) -> None:
    resident = world.resident()
    for _ in range(2):
        signed_post(anon_client, INBOUND_PATH, _inbound(resident.phone, "STOP", "SM9"))
    assert len(db.scalars(select(InboundMessage)).all()) == 1


def test_webhooks_are_refused_when_no_twilio_token_is_configured(
    monkeypatch: pytest.MonkeyPatch, anon_client: TestClient
) -> None:
    from app.core.settings import get_settings

    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    get_settings.cache_clear()
    params = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "c" * 32, "MessageStatus": "sent"}
    assert signed_post(anon_client, STATUS_PATH, params).status_code == 403
