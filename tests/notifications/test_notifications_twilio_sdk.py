"""The Twilio provider through the real `twilio` SDK, against the local fake Messages API: the
exact request Twilio would receive, its answers, and its error codes."""

import base64
from datetime import UTC, datetime, timedelta

import pytest

from app.core import sms as core_sms
from app.core.settings import get_settings
from notifications import providers
from notifications.config import get_config
from simulation.twilio_server import FakeTwilio
from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID

TO = "+8613800001111"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_send_posts_the_form_twilio_expects(
    provider: providers.SmsProvider, fake_twilio: FakeTwilio
) -> None:
    callback = "https://pickup.example.com/notifications/webhooks/twilio/status?k=parcel_ready%3A1"
    result = provider.send(to=TO, body="Pickup: code 123456", status_callback=callback)

    (request,) = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.basic_auth == (ACCOUNT_SID, AUTH_TOKEN)
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"].startswith("twilio-python/")
    assert request.form == {
        "To": TO,
        "Body": "Pickup: code 123456",
        "MessagingServiceSid": MESSAGING_SERVICE_SID,
        "StatusCallback": callback,
    }
    assert request.callback_key == "parcel_ready:1"
    assert result.sid.startswith("SM") and len(result.sid) == 34
    assert result.status == "accepted"  # a Messaging Service queues as "accepted"
    assert fake_twilio.messages[result.sid]["body"] == "Pickup: code 123456"


def test_a_from_number_replaces_the_messaging_service(
    monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilio
) -> None:
    monkeypatch.delenv("TWILIO_MESSAGING_SERVICE_SID")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+15005550006")
    get_settings.cache_clear()
    result = providers.get_provider().send(to=TO, body="hello", status_callback=None)
    (request,) = fake_twilio.requests
    assert request.form == {"To": TO, "Body": "hello", "From": "+15005550006"}
    assert result.status == "queued"


@pytest.mark.parametrize(
    ("status", "code", "error", "maybe_accepted"),
    [
        (400, 21211, providers.PermanentSendError, None),
        (400, 21610, providers.PermanentSendError, None),
        (400, 21614, providers.PermanentSendError, None),
        (429, 20429, providers.TransientSendError, False),
        (500, 20500, providers.TransientSendError, True),
        (503, 20503, providers.TransientSendError, True),
    ],
)
def test_twilio_errors_are_classified_by_status_and_code(
    provider: providers.SmsProvider,
    fake_twilio: FakeTwilio,
    status: int,
    code: int,
    error: type[providers.SendError],
    maybe_accepted: bool | None,
) -> None:
    fake_twilio.fail_next(status, code, "scripted")
    with pytest.raises(error) as raised:
        provider.send(to=TO, body="hello", status_callback=None)
    assert raised.value.code == code
    assert raised.value.status == status
    if maybe_accepted is not None:
        assert isinstance(raised.value, providers.TransientSendError)
        assert raised.value.maybe_accepted is maybe_accepted
    assert fake_twilio.accepted() == []


def test_an_invalid_number_is_refused_with_21211(
    provider: providers.SmsProvider, fake_twilio: FakeTwilio
) -> None:
    with pytest.raises(providers.PermanentSendError) as raised:
        provider.send(to="+15005550001", body="hello", status_callback=None)
    assert raised.value.code == 21211


def test_wrong_credentials_are_refused(
    monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilio
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-token")
    get_settings.cache_clear()
    with pytest.raises(providers.PermanentSendError) as raised:
        providers.get_provider().send(to=TO, body="hello", status_callback=None)
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_an_unreachable_twilio_is_transient_not_ambiguous(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    with pytest.raises(providers.TransientSendError):
        providers.get_provider().send(to=TO, body="hello", status_callback=None)


def test_a_timeout_after_sending_is_ambiguous(
    monkeypatch: pytest.MonkeyPatch, fake_twilio: FakeTwilio
) -> None:
    monkeypatch.setenv("NOTIFICATIONS_PROVIDER_TIMEOUT_SECONDS", "0.3")
    get_config.cache_clear()
    fake_twilio.hold_after_accepting(1)
    try:
        with pytest.raises(providers.AmbiguousSendError):
            providers.get_provider().send(to=TO, body="hello", status_callback=None)
    finally:
        fake_twilio.release.set()
    assert len(fake_twilio.accepted()) == 1  # Twilio has it although we never heard back


def test_fetch_and_find_sent_read_twilio_back(
    provider: providers.SmsProvider, fake_twilio: FakeTwilio
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    sids = [provider.send(to=TO, body=f"m{i}", status_callback=None).sid for i in range(60)]
    provider.send(to="+8613800002222", body="other", status_callback=None)
    fake_twilio.set_status(sids[0], "delivered")

    fetched = provider.fetch(sid=sids[0])
    assert (fetched.sid, fetched.status, fetched.body, fetched.to) == (
        sids[0],
        "delivered",
        "m0",
        TO,
    )
    found = provider.find_sent(to=TO, since=since)
    assert [m.sid for m in found] == list(reversed(sids))  # newest first, across two pages
    pages = [r for r in fake_twilio.requests if r.method == "GET" and r.path == MESSAGES_PATH]
    assert len(pages) == 2 and pages[0].query["To"] == TO
    assert provider.find_sent(to=TO, since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_login_codes_go_through_twilio_when_configured(fake_twilio: FakeTwilio) -> None:
    sender = core_sms.get_sms_sender()
    assert isinstance(sender, core_sms.TwilioSender)
    sid = sender.send(to=TO, body="Pickup: your login code is 654321.")
    (request,) = fake_twilio.requests
    assert request.form["Body"] == "Pickup: your login code is 654321."
    assert request.form["MessagingServiceSid"] == MESSAGING_SERVICE_SID
    assert sid == fake_twilio.accepted()[0]["sid"]


def test_the_console_provider_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_PROVIDER", "console")
    get_settings.cache_clear()
    core_sms.get_sms_sender.cache_clear()
    assert isinstance(providers.get_provider(), providers.ConsoleProvider)
    assert isinstance(core_sms.get_sms_sender(), core_sms.ConsoleOutbox)
    result = providers.get_provider().send(to=TO, body="hi", status_callback=None)
    assert result.status == "delivered" and result.sid.startswith("CN")
