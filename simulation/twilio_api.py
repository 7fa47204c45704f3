"""The state behind the local Twilio-speaking server (`simulation.twilio_server`): accounts,
messages as Twilio stores them, scripted failures, and every request as it arrived.

Messages are created, fetched and listed (newest first, paged) with Twilio's JSON and error
codes; an accepted message can post signed status callbacks, as Twilio does.
"""

import contextlib
import re
import secrets
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

API = "/2010-04-01/Accounts/"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
INVALID_TEST_NUMBER = "+15005550001"  # Twilio's magic test number for an invalid 'To'


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake Twilio received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    basic_auth: tuple[str, str] | None
    status: int
    at: float
    aborted: bool = False  # the client hung up before its request was complete

    @property
    def callback_key(self) -> str | None:
        """The idempotency key our StatusCallback URL carries (`?k=`), if any."""
        return callback_key(self.form)


@dataclass
class Failure:
    status: int
    code: int
    message: str


@dataclass
class FakeTwilio:
    """The fake API's state: accounts, messages, scripted failures, recorded requests."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    latency_s: float = 0.0
    auto_callbacks: bool = False
    invalid_numbers: set[str] = field(default_factory=lambda: {INVALID_TEST_NUMBER})
    unsubscribed: set[str] = field(default_factory=set)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)
    _failures: list[Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hold_at: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    on_create: Callable[[dict[str, Any]], None] | None = None

    # --- scripting -------------------------------------------------------------------------

    def fail_next(self, status: int, code: int, message: str = "", times: int = 1) -> None:
        """Answer the next `times` create requests with this error."""
        with self._lock:
            self._failures.extend(
                Failure(status, code, message or f"error {code}") for _ in range(times)
            )

    def hold_after_accepting(self, count: int) -> None:
        """Accept the `count`-th message, then hang before answering until `release` is set
        (a provider that took the message while the sender dies waiting for the answer)."""
        self._hold_at = count
        self.held.clear()
        self.release.clear()

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Move a stored message to a new status (as the carrier would)."""
        with self._lock:
            message = self.messages[sid]
            message["status"] = status
            message["error_code"] = error_code
            message["date_updated"] = _rfc2822(datetime.now(UTC))
            if status in ("sent", "delivered", "undelivered") and not message["date_sent"]:
                message["date_sent"] = message["date_updated"]

    @property
    def may_block(self) -> bool:
        """Whether answering may wait (scripted latency, a held create)."""
        return bool(self.latency_s) or self._hold_at is not None

    def record(self, request: RecordedRequest) -> None:
        """Keep one request as it arrived (the server calls this for every request)."""
        with self._lock:
            self.requests.append(request)

    # --- reading ---------------------------------------------------------------------------

    def creates(self) -> list[RecordedRequest]:
        """Complete create requests (accepted or refused), in arrival order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == "POST" and r.path.endswith("/Messages.json") and not r.aborted
            ]

    def accepted(self) -> list[dict[str, Any]]:
        """Messages the fake accepted, oldest first."""
        with self._lock:
            return [dict(self.messages[sid]) for sid in self._order]

    def accepted_by_key(self) -> Counter[str]:
        """How many messages were accepted per idempotency key (from the callback URL)."""
        counts: Counter[str] = Counter()
        for message in self.accepted():
            key = message.get("_key")
            if key:
                counts[key] += 1
        return counts

    def reset(self) -> None:
        """Forget all messages, requests and scripted failures."""
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self._order.clear()
            self._failures.clear()
            self.unsubscribed.clear()
            self._hold_at = None
            self.release.set()

    # --- handling --------------------------------------------------------------------------

    def _message_uri(self, sid: str) -> str:
        return f"{API}{self.account_sid}/Messages/{sid}.json"

    def create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to = form.get("To", "")
        if not to:
            return error_body(400, 21604, "A 'To' phone number is required.")
        if not form.get("Body"):
            return error_body(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return error_body(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        with self._lock:
            if self._failures:
                failure = self._failures.pop(0)
                return error_body(failure.status, failure.code, failure.message)
        if to in self.invalid_numbers or not E164.match(to):
            return error_body(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return error_body(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822(datetime.now(UTC))
        body = form["Body"]
        gsm = all(ord(ch) < 128 for ch in body)
        per = (160, 153) if gsm else (70, 67)
        segments = 1 if len(body) <= per[0] else -(-len(body) // per[1])
        message: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if not form.get("From") else "queued",
            "subresource_uris": {"media": self._message_uri(sid).replace(".json", "/Media.json")},
            "to": to,
            "uri": self._message_uri(sid),
        }
        with self._lock:
            self.messages[sid] = message
            self._order.append(sid)
            count = len(self._order)
        message["_key"] = callback_key(form)
        if self.on_create is not None:
            self.on_create(message)
        if self._hold_at is not None and count == self._hold_at:
            self.held.set()
            self.release.wait(timeout=120)
        if self.auto_callbacks and form.get("StatusCallback"):
            threading.Thread(
                target=self._callbacks, args=(sid, form["StatusCallback"]), daemon=True
            ).start()
        return 201, _public(message)

    def _callbacks(self, sid: str, url: str) -> None:
        for status in ("sent", "delivered"):
            time.sleep(0.2)
            self.set_status(sid, status)
            message = self.messages[sid]
            params = {
                "AccountSid": self.account_sid,
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "To": message["to"],
                "From": message["from"] or "",
                "ApiVersion": "2010-04-01",
            }
            signature = RequestValidator(self.auth_token).compute_signature(url, params)
            request = urllib.request.Request(
                url,
                data=urlencode(params).encode(),
                headers={"X-Twilio-Signature": signature},
                method="POST",
            )
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=5).close()

    def fetch(self, sid: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self.messages.get(sid)
        if message is None:
            return error_body(
                404, 20404, f"The requested resource {self._message_uri(sid)} was not found"
            )
        return 200, _public(message)

    def list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to = query.get("To")
        page_size = int(query.get("PageSize") or 50)
        page = int(query.get("Page") or 0)
        with self._lock:
            rows = [self.messages[sid] for sid in reversed(self._order)]
        if to:
            rows = [m for m in rows if m["to"] == to]
        chunk = rows[page * page_size : (page + 1) * page_size]
        base = f"{API}{self.account_sid}/Messages.json"
        params = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
        next_uri = None
        if (page + 1) * page_size < len(rows):
            next_uri = (
                f"{base}?{urlencode({**params, 'Page': page + 1, 'PageToken': f'PA{page + 1}'})}"
            )
        return 200, {
            "messages": [_public(m) for m in chunk],
            "end": page * page_size + max(0, len(chunk) - 1),
            "first_page_uri": f"{base}?{urlencode({**params, 'Page': 0})}",
            "next_page_uri": next_uri,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": page * page_size,
            "uri": f"{base}?{urlencode(query)}",
        }


def callback_key(form: dict[str, str]) -> str | None:
    """The idempotency key in a create request's StatusCallback URL (`?k=`), if any."""
    url = form.get("StatusCallback")
    if not url:
        return None
    return dict(parse_qsl(urlsplit(url).query)).get("k")


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _rfc2822(at: datetime) -> str:
    return format_datetime(at)


def error_body(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
