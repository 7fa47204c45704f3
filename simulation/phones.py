"""The residents' phones: a local server that speaks Twilio's API and delivers to inboxes.

The system sends through the real `twilio` SDK (SMS_PROVIDER=twilio with TWILIO_BASE_URL here),
so the played day exercises the production send path on both stacks, and the simulated
residents read their login and pickup codes from the messages they actually received.
"""

import re
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from simulation.twilio_server import FakeTwilio, FakeTwilioServer

LOGIN_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
PICKUP_CODE = re.compile(r"(?:Code |取件码)(\d{6})")
ORDER_ID = re.compile(r"#(\d+)")
FROM_NUMBER = "+15005550006"
LOGIN_CODE_TEXT = re.compile(r"login code|登录验证码")


class PhoneNetwork:
    """Every simulated phone's inbox, filled by the Twilio-speaking server it runs."""

    def __init__(self, on_watched: Callable[[str, str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._inbox: dict[str, list[str]] = defaultdict(list)
        self._watched: set[str] = set()
        self._fresh: set[str] = set()
        self._on_watched = on_watched
        self.fake = FakeTwilio(on_create=self._deliver, auto_callbacks=False)
        self.server = FakeTwilioServer(self.fake)

    def start(self) -> "PhoneNetwork":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def environment(self) -> dict[str, str]:
        """The settings that send the system's SMS to this network."""
        return {
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": self.fake.account_sid,
            "TWILIO_AUTH_TOKEN": self.fake.auth_token,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_BASE_URL": self.server.base_url,
        }

    def watch(self, phone: str) -> None:
        """Show this phone's messages as they arrive (the demo resident's, in the terminal)."""
        self._watched.add(phone)

    def _deliver(self, message: dict[str, Any]) -> None:
        to, body = str(message["to"]), str(message["body"])
        with self._lock:
            self._inbox[to].append(body)
            self._fresh.add(to)
        if to in self._watched and self._on_watched is not None:
            self._on_watched(to, body)

    def phones_with_news(self) -> set[str]:
        """Phones that received something since the last call."""
        with self._lock:
            fresh, self._fresh = self._fresh, set()
        return fresh

    def messages(self, phone: str) -> list[str]:
        """What this phone received, oldest first."""
        with self._lock:
            return list(self._inbox.get(phone, ()))

    def sent_count(self) -> int:
        with self._lock:
            return sum(len(bodies) for bodies in self._inbox.values())

    def login_code(self, phone: str) -> str | None:
        """The newest login code this phone received."""
        for body in reversed(self.messages(phone)):
            if "login" in body or "登录" in body:
                found = LOGIN_CODE.search(body)
                if found:
                    return found.group(1)
        return None

    def pickup_messages(self, phone: str) -> list[tuple[int, str]]:
        """(order id, pickup code) of every pickup message received, each pair once."""
        seen: dict[tuple[int, str], None] = {}
        for body in self.messages(phone):
            code, order = PICKUP_CODE.search(body), ORDER_ID.search(body)
            if code and order:
                seen[(int(order.group(1)), code.group(1))] = None
        return list(seen)

    def received_matching(self, phone: str, *fragments: str) -> bool:
        """Whether any message to this phone contains one of the fragments."""
        return any(f in body for body in self.messages(phone) for f in fragments)
