"""The small SMS interface the foundation needs, its embedded default (a console outbox), and
the Twilio sender used for direct messages (login codes) when `SMS_PROVIDER=twilio`.

The notifications package builds its durable, exactly-once message outbox on `twilio_client()`.
"""

import logging
import re
import threading
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
_CODE = re.compile(r"\b\d{4,8}\b")


def redact(text: str) -> str:
    """The text with every run of 4-8 digits masked, for logs and stored copies."""
    return _CODE.sub(lambda m: "*" * len(m.group()), text)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class SmsSender(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one SMS; return the provider's message id."""
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
    """Prints each login code SMS to the terminal (`ConsolePhone.login_code`).

    The printed text is the delivery itself (a development stand-in for a phone); logs carry
    only a redacted copy. The last messages stay readable in-process for the same reason.
    """

    def __init__(self, keep: int = 1000, phone: ConsolePhone | None = None) -> None:
        self.sent: deque[SmsMessage] = deque(maxlen=keep)
        self._phone = phone

    def send(self, *, to: str, body: str) -> str:
        self.sent.append(SmsMessage(to=to, body=body))
        (self._phone or console_phone()).login_code(to=to, body=body)
        log.info("sms queued to console outbox for %s: %s", to, redact(body))
        return f"console-{len(self.sent)}"

    def last_to(self, phone: str) -> SmsMessage | None:
        """The newest message sent to `phone`, if any."""
        return next((m for m in reversed(self.sent) if m.to == phone), None)


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, sending to `base_url` instead of https://api.twilio.com.

    Only scheme and host change: paths, Basic auth and form bodies are exactly the SDK's, so a
    local stand-in (tests, `pickup notifications fake-twilio`) sees what Twilio would.
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


class TwilioSender:
    """Sends one SMS synchronously through Twilio (login codes; no outbox, the user retries)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings or get_settings()
        self._client = twilio_client(self._settings)

    def send(self, *, to: str, body: str) -> str:
        sender: dict[str, str] = (
            {"messaging_service_sid": self._settings.twilio_messaging_service_sid}
            if self._settings.twilio_messaging_service_sid
            else {"from_": self._settings.twilio_from_number or ""}
        )
        message = self._client.messages.create(to=to, body=body, **sender)
        log.info("sms sent through twilio to %s: %s (%s)", to, redact(body), message.sid)
        return str(message.sid)


@lru_cache
def get_sms_sender() -> SmsSender:
    """The configured sender for direct, synchronous messages (login codes)."""
    if get_settings().sms_provider == "twilio":
        return TwilioSender()
    return ConsoleOutbox()
