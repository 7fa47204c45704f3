"""The small SMS interface the foundation needs, and its embedded default: a console outbox.

The notifications package provides the Twilio implementation and the durable message outbox.
"""

import logging
import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from rich.console import Console

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


class ConsoleOutbox:
    """Prints each SMS to the terminal as the recipient's phone would show it.

    The printed text is the delivery itself (a development stand-in for a phone); logs carry
    only a redacted copy. The last messages stay readable in-process for the same reason.
    """

    def __init__(self, keep: int = 1000) -> None:
        self.sent: deque[SmsMessage] = deque(maxlen=keep)
        self._console = Console(stderr=True)

    def send(self, *, to: str, body: str) -> str:
        self.sent.append(SmsMessage(to=to, body=body))
        self._console.print(f"[cyan]SMS to {to}[/cyan]: {body}")
        log.info("sms queued to console outbox for %s: %s", to, redact(body))
        return f"console-{len(self.sent)}"

    def last_to(self, phone: str) -> SmsMessage | None:
        """The newest message sent to `phone`, if any."""
        return next((m for m in reversed(self.sent) if m.to == phone), None)


@lru_cache
def get_sms_sender() -> SmsSender:
    """The configured sender for direct, synchronous messages (login codes)."""
    return ConsoleOutbox()
