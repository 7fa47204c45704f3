"""The one SMS interface (`SmsSender`), its real implementation (`TwilioSender`, Twilio's
official SDK) and its embedded default (`ConsoleOutbox`, the terminal standing in for phones).

Auth sends login codes directly (`send`, no outbox: the user asks again); the notifications
package builds its durable, exactly-once message outbox on `submit`, `fetch` and `find_sent`.
"""

import logging
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from rich.console import Console
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
_CODE = re.compile(r"\b\d{4,8}\b")

# Twilio error codes that will not get better by retrying the same request.
PERMANENT_CODES = frozenset({21211, 21212, 21408, 21610, 21612, 21614, 21617, 21621, 21635, 30006})
UNSUBSCRIBED_CODE = 21610
RATE_LIMIT_CODE = 20429


def redact(text: str) -> str:
    """The text with every run of 4-8 digits masked, for logs and stored copies."""
    return _CODE.sub(lambda m: "*" * len(m.group()), text)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


@dataclass(frozen=True)
class SentSms:
    """What the provider says about one message."""

    sid: str
    status: str
    to: str = ""
    body: str = field(default="", repr=False)
    created_at: datetime | None = None
    error_code: int | None = None
    error_message: str | None = None


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


class SmsSender(Protocol):
    """An SMS provider: takes messages and reports on the ones it took."""

    name: str

    def send(self, *, to: str, body: str) -> str:
        """Send one SMS now (a login code); return the provider's message id."""
        ...

    def submit(self, *, to: str, body: str, status_callback: str | None = None) -> SentSms:
        """Hand one SMS to the provider; raise a SendError subclass when it does not take it."""
        ...

    def fetch(self, *, sid: str) -> SentSms:
        """The provider's current view of a message it accepted."""
        ...

    def find_sent(self, *, to: str, since: datetime) -> list[SentSms]:
        """Messages the provider accepted for `to` since `since` (newest first)."""
        ...


class ConsolePhone:
    """The terminal standing in for residents' phones, without flooding it.

    Login codes, and every message to a watched phone (`SMS_CONSOLE_PHONES`: comma-separated
    E.164 numbers, e.g. the demo resident's, or `*` for all), print in full: the printed text is
    the delivery itself. Other messages are counted and summed up in one line per burst (at most
    one line every `summary_seconds`), with where to read them in full.
    """

    def __init__(self, console: Console | None = None, summary_seconds: float = 2.0) -> None:
        self.console = console or Console(stderr=True)
        self.summary_seconds = summary_seconds
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._timer: threading.Timer | None = None

    @staticmethod
    def watched(phone: str) -> bool:
        """Whether messages to `phone` print in full."""
        listed = {p.strip() for p in get_settings().sms_console_phones.split(",") if p.strip()}
        return "*" in listed or phone in listed

    def login_code(self, *, to: str, body: str) -> None:
        """A login code: always in full, and easy to spot."""
        self.console.print(
            f"[bold black on yellow] LOGIN CODE [/] [bold]SMS to {to}[/bold]: {body}"
        )

    def message(self, *, to: str, body: str) -> None:
        """A notification: in full to a watched phone, else counted for the next summary."""
        if self.watched(to):
            self.console.print(f"[cyan]SMS to {to}[/cyan]: {body}")
            return
        with self._lock:
            self._pending.append(to)
            if self._timer is None:
                self._timer = threading.Timer(self.summary_seconds, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Print the summary line of the messages counted since the last one, if any."""
        with self._lock:
            pending, self._pending = self._pending, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if pending:
            self.console.print(
                f"[dim]SMS: {len(pending)} more sent to {len(set(pending))} phones, not shown "
                "here (read them with `pickup notifications outbox`)[/dim]"
            )


@lru_cache
def console_phone() -> ConsolePhone:
    """The process's one console phone (so that summaries cover every sender)."""
    return ConsolePhone()


class ConsoleOutbox:
    """The embedded sender: prints each SMS on the console phone and reports it delivered.

    Login codes (`login_codes`, the default) always print in full; notifications print in full
    to watched phones and are summed up otherwise (`ConsolePhone`). The printed text is the
    delivery itself; logs carry only a redacted copy. The last messages stay readable
    in-process for the same reason.
    """

    name = "console"

    def __init__(
        self, keep: int = 1000, phone: ConsolePhone | None = None, *, login_codes: bool = True
    ) -> None:
        self.sent: deque[SmsMessage] = deque(maxlen=keep)
        self._phone = phone
        self._login_codes = login_codes

    def send(self, *, to: str, body: str) -> str:
        return self.submit(to=to, body=body).sid

    def submit(self, *, to: str, body: str, status_callback: str | None = None) -> SentSms:
        sid = f"CN{uuid.uuid4().hex}"
        self.sent.append(SmsMessage(to=to, body=body))
        phone = self._phone or console_phone()
        if self._login_codes:
            phone.login_code(to=to, body=body)
        else:
            phone.message(to=to, body=body)
        log.info("sms %s to console outbox for %s: %s", sid, to, redact(body))
        return SentSms(sid=sid, status="delivered", to=to, created_at=datetime.now(UTC))

    def fetch(self, *, sid: str) -> SentSms:
        return SentSms(sid=sid, status="delivered")

    def find_sent(self, *, to: str, since: datetime) -> list[SentSms]:
        return []

    def last_to(self, phone: str) -> SmsMessage | None:
        """The newest message sent to `phone`, if any."""
        return next((m for m in reversed(self.sent) if m.to == phone), None)


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, sending to `base_url` instead of https://api.twilio.com.

    Only scheme and host change: paths, Basic auth and form bodies are exactly the SDK's, so a
    local stand-in (tests, `pickup sim twilio`) sees what Twilio would.
    """

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base = urlsplit(base_url.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        url = urlunsplit((self._base.scheme, self._base.netloc, parts.path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def twilio_client(settings: Settings | None = None, *, timeout: float = 10.0) -> Client:
    """A Twilio REST client from settings (credentials, optional base URL override)."""
    settings = settings or get_settings()
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise RuntimeError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set for Twilio")
    http_client = (
        BaseUrlHttpClient(settings.twilio_base_url, timeout=timeout)
        if settings.twilio_base_url
        else TwilioHttpClient(timeout=timeout)
    )
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)


def _sent(message: Any) -> SentSms:
    created = message.date_created
    return SentSms(
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


def _classify(exc: TwilioRestException) -> SendError:
    status, code = int(exc.status), (int(exc.code) if exc.code else None)
    text = f"Twilio {status} {code}: {redact(str(exc.msg))}"[:255]
    if status == 429 or code == RATE_LIMIT_CODE:
        return TransientSendError(text, code=code, status=status)
    if status >= 500:
        return TransientSendError(text, code=code, status=status, maybe_accepted=True)
    return PermanentSendError(text, code=code, status=status)


class TwilioSender:
    """Twilio's Messages API through the official SDK (Messaging Service SID or from-number)."""

    name = "twilio"

    def __init__(self, settings: Settings | None = None, *, timeout: float = 10.0) -> None:
        self._settings = settings or get_settings()
        self._client = twilio_client(self._settings, timeout=timeout)

    def _sender(self) -> dict[str, str]:
        if self._settings.twilio_messaging_service_sid:
            return {"messaging_service_sid": self._settings.twilio_messaging_service_sid}
        if self._settings.twilio_from_number:
            return {"from_": self._settings.twilio_from_number}
        raise PermanentSendError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")

    def send(self, *, to: str, body: str) -> str:
        message = self.submit(to=to, body=body)
        log.info("sms sent through twilio to %s: %s (%s)", to, redact(body), message.sid)
        return message.sid

    def submit(self, *, to: str, body: str, status_callback: str | None = None) -> SentSms:
        kwargs: dict[str, Any] = {"to": to, "body": body, **self._sender()}
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            return _sent(self._client.messages.create(**kwargs))
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

    def fetch(self, *, sid: str) -> SentSms:
        return _sent(self._client.messages(sid).fetch())

    def find_sent(self, *, to: str, since: datetime) -> list[SentSms]:
        found = []
        for message in self._client.messages.stream(to=to, page_size=50, limit=500):
            item = _sent(message)
            if item.created_at is not None and item.created_at < since:
                break  # Twilio lists newest first
            found.append(item)
        return found


@lru_cache
def get_sms_sender() -> SmsSender:
    """The configured sender for direct, synchronous messages (login codes)."""
    if get_settings().sms_provider == "twilio":
        return TwilioSender()
    return ConsoleOutbox()
