"""The message outbox's view of the SMS sender (`app.core.sms`): `send` with the status callback
URL, answered with what the provider says, plus the provider's own view of a message.

The console provider is the development stand-in for a phone: it prints the full text of
messages to watched phones (`SMS_CONSOLE_PHONES`, e.g. the demo resident's) to the terminal (the
delivery itself), sums up the rest in one line per burst so a nudge pass does not bury the
login codes, and reports each delivered at once. What it "sent" stays readable
in the message outbox table, redacted (`pickup notifications outbox`; `--reveal` re-renders
pickup codes from the parcels, since codes are derived and never stored).
"""

from datetime import datetime

from app.core.settings import Settings, get_settings
from app.core.sms import (
    UNSUBSCRIBED_CODE,
    AmbiguousSendError,
    ConsoleOutbox,
    ConsolePhone,
    PermanentSendError,
    SendError,
    SentSms,
    SmsSender,
    TransientSendError,
    TwilioSender,
)
from notifications.config import NotificationsConfig, get_config

__all__ = [
    "UNSUBSCRIBED_CODE",
    "AmbiguousSendError",
    "ConsoleProvider",
    "PermanentSendError",
    "SendError",
    "SentSms",
    "SmsProvider",
    "TransientSendError",
    "TwilioProvider",
    "get_provider",
    "make_provider",
]


class SmsProvider:
    """An `SmsSender` as the outbox calls it (every send names its status callback)."""

    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender
        self.name = sender.name

    def send(self, *, to: str, body: str, status_callback: str | None) -> SentSms:
        """Hand one SMS to the provider; raise a SendError subclass when it does not take it."""
        return self.sender.submit(to=to, body=body, status_callback=status_callback)

    def fetch(self, *, sid: str) -> SentSms:
        """The provider's current view of a message it accepted."""
        return self.sender.fetch(sid=sid)

    def find_sent(self, *, to: str, since: datetime) -> list[SentSms]:
        """Messages the provider accepted for `to` since `since` (newest first)."""
        return self.sender.find_sent(to=to, since=since)


class TwilioProvider(SmsProvider):
    """Twilio, with the outbox's provider timeout."""

    def __init__(self, settings: Settings, config: NotificationsConfig) -> None:
        super().__init__(TwilioSender(settings, timeout=config.provider_timeout_seconds))


class ConsoleProvider(SmsProvider):
    """The console phone: notifications in full to watched phones, else summed up."""

    def __init__(self, phone: ConsolePhone | None = None) -> None:
        super().__init__(ConsoleOutbox(phone=phone, login_codes=False))


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
