"""SMS providers behind one small interface: Twilio (official SDK) and the console outbox.

The console provider is the development stand-in for a phone: it prints the full text of
messages to watched phones (`SMS_CONSOLE_PHONES`, e.g. the demo resident's) to the terminal (the
delivery itself), sums up the rest in one line per burst so a nudge pass does not bury the
login codes, and reports each delivered at once. What it "sent" stays readable
in the message outbox table, redacted (`pickup notifications outbox`; `--reveal` re-renders
pickup codes from the parcels, since codes are derived and never stored).
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

from app.core.db import utcnow
from app.core.settings import Settings, get_settings
from app.core.sms import ConsolePhone, console_phone, redact, twilio_client
from notifications.config import NotificationsConfig, get_config

log = logging.getLogger(__name__)

# Twilio error codes that will not get better by retrying the same request.
PERMANENT_CODES = frozenset({21211, 21212, 21408, 21610, 21612, 21614, 21617, 21621, 21635, 30006})
UNSUBSCRIBED_CODE = 21610
RATE_LIMIT_CODE = 20429


class SendError(Exception):
    """A provider refused or could not take a message."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class PermanentSendError(SendError):
    """The provider refused the message for good (bad number, unsubscribed): do not retry."""


class TransientSendError(SendError):
    """Try again later (429, 5xx, connection refused).

    `maybe_accepted` is set when the provider might have taken the message anyway (a 5xx from a
    gateway after the request was processed): the next attempt first looks the message up.
    """

    def __init__(self, message: str, *, maybe_accepted: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.maybe_accepted = maybe_accepted


class AmbiguousSendError(SendError):
    """The request may have reached the provider but no answer came (read timeout, reset)."""


@dataclass(frozen=True)
class ProviderMessage:
    """What the provider says about one message."""

    sid: str
    status: str
    to: str = ""
    body: str = field(default="", repr=False)
    created_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, body: str, status_callback: str | None) -> ProviderMessage:
        """Hand one SMS to the provider; raise a SendError subclass when it does not take it."""
        ...

    def fetch(self, *, sid: str) -> ProviderMessage:
        """The provider's current view of a message it accepted."""
        ...

    def find_sent(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages the provider accepted for `to` since `since` (newest first)."""
        ...


def _instance(message: Any) -> ProviderMessage:
    created = message.date_created
    return ProviderMessage(
        sid=str(message.sid),
        status=str(message.status),
        to=str(message.to or ""),
        body=str(message.body or ""),
        created_at=created.astimezone(UTC) if created else None,
        error_code=int(message.error_code) if message.error_code else None,
        error_message=str(message.error_message) if message.error_message else None,
    )


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason).__name__ == "NewConnectionError"


class TwilioProvider:
    """Twilio's Messages API through the official SDK (Messaging Service SID or from-number)."""

    name = "twilio"

    def __init__(self, settings: Settings, config: NotificationsConfig) -> None:
        self._settings = settings
        self._client = twilio_client(settings, timeout=config.provider_timeout_seconds)

    def _sender(self) -> dict[str, str]:
        if self._settings.twilio_messaging_service_sid:
            return {"messaging_service_sid": self._settings.twilio_messaging_service_sid}
        if self._settings.twilio_from_number:
            return {"from_": self._settings.twilio_from_number}
        raise PermanentSendError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")

    def send(self, *, to: str, body: str, status_callback: str | None) -> ProviderMessage:
        kwargs: dict[str, Any] = {"to": to, "body": body, **self._sender()}
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            return _instance(self._client.messages.create(**kwargs))
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise TransientSendError(f"cannot reach Twilio: {exc}") from exc
            raise AmbiguousSendError(f"no answer from Twilio: {exc}") from exc
        except requests.exceptions.Timeout as exc:
            raise AmbiguousSendError(f"Twilio timed out: {exc}") from exc
        except TwilioException as exc:
            raise AmbiguousSendError(f"Twilio SDK error: {exc}") from exc

    def fetch(self, *, sid: str) -> ProviderMessage:
        return _instance(self._client.messages(sid).fetch())

    def find_sent(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        found = []
        for message in self._client.messages.stream(to=to, page_size=50, limit=500):
            item = _instance(message)
            if item.created_at is not None and item.created_at < since:
                break  # Twilio lists newest first
            found.append(item)
        return found


def _classify(exc: TwilioRestException) -> SendError:
    status, code = int(exc.status), (int(exc.code) if exc.code else None)
    text = f"Twilio {status} {code}: {redact(str(exc.msg))}"[:255]
    if status == 429 or code == RATE_LIMIT_CODE:
        return TransientSendError(text, code=code, status=status)
    if status >= 500:
        return TransientSendError(text, code=code, status=status, maybe_accepted=True)
    return PermanentSendError(text, code=code, status=status)


class ConsoleProvider:
    """Shows each SMS on the console phone (in full or summed up); reports it delivered."""

    name = "console"

    def __init__(self, phone: ConsolePhone | None = None) -> None:
        self._phone = phone

    def send(self, *, to: str, body: str, status_callback: str | None) -> ProviderMessage:
        sid = f"CN{uuid.uuid4().hex}"
        (self._phone or console_phone()).message(to=to, body=body)
        log.info("sms %s to console outbox for %s: %s", sid, to, redact(body))
        return ProviderMessage(sid=sid, status="delivered", to=to, created_at=utcnow())

    def fetch(self, *, sid: str) -> ProviderMessage:
        return ProviderMessage(sid=sid, status="delivered")

    def find_sent(self, *, to: str, since: datetime) -> list[ProviderMessage]:
        return []


def make_provider(settings: Settings, config: NotificationsConfig) -> SmsProvider:
    """A provider for the given settings."""
    if settings.sms_provider == "twilio":
        return TwilioProvider(settings, config)
    return ConsoleProvider()


_current: tuple[Settings, NotificationsConfig, SmsProvider] | None = None


def get_provider() -> SmsProvider:
    """The configured provider, one per process and configuration (reusing its connections)."""
    global _current
    settings, config = get_settings(), get_config()
    if _current is None or _current[0] is not settings or _current[1] is not config:
        _current = (settings, config, make_provider(settings, config))
    return _current[2]
