"""Twilio's requests to us: message status callbacks and inbound SMS (STOP / START / HELP).

Both are signed by Twilio (X-Twilio-Signature, HMAC of the full URL and the form fields with the
account's auth token) and checked with Twilio's own `RequestValidator`; anything else gets 403.
The URL checked is the public one Twilio called (`PUBLIC_BASE_URL` + path + query), not the one
a proxy forwarded to us.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from app.core.db import utcnow
from app.core.errors import Forbidden
from app.core.settings import get_settings
from app.core.sms import redact
from app.residents import queries as residents_queries
from notifications import render, service, tracking
from notifications.models import InboundMessage, Message

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioSignatureInvalid(Forbidden):
    """A webhook whose Twilio signature is missing or wrong."""

    case = "twilio_signature_invalid"


# Twilio's default opt-out keywords (handled and answered by Twilio itself), then ours.
TWILIO_STOP = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
TWILIO_START = frozenset({"START", "YES", "UNSTOP"})
TWILIO_HELP = frozenset({"HELP", "INFO"})
OUR_STOP = frozenset({"退订", "退訂", "取消订阅", "停止", "退出", "TD"})
OUR_START = frozenset({"订阅", "恢复", "开始"})
OUR_HELP = frozenset({"帮助", "客服"})
_TRIM = re.compile(r"^[\s\"'“”‘’「」]+|[\s.!。！?？\"'“”‘’「」]+$")


@dataclass(frozen=True)
class TwilioForm:
    """A verified Twilio request: its form fields and query parameters."""

    fields: dict[str, str]
    query: dict[str, str]


@dataclass(frozen=True)
class InboundResult:
    keyword: str | None
    reply: str | None


def public_url(request: Request) -> str:
    """The URL Twilio called, as it signed it."""
    base = get_settings().public_base_url.rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}{'?' + query if query else ''}"


def is_genuine(*, url: str, fields: ImmutableMultiDict[str, str], signature: str) -> bool:
    """Whether the request carries Twilio's valid signature for our auth token."""
    token = get_settings().twilio_auth_token
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, fields, signature))


async def verified_form(request: Request) -> TwilioForm:
    """FastAPI dependency: the form of a request Twilio signed, or 403."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    pairs = parse_qsl(raw, keep_blank_values=True)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not is_genuine(
        url=public_url(request), fields=ImmutableMultiDict(pairs), signature=signature
    ):
        log.warning("rejected a webhook with a missing or invalid Twilio signature")
        raise TwilioSignatureInvalid("invalid Twilio signature", field=SIGNATURE_HEADER.lower())
    return TwilioForm(fields=dict(pairs), query=dict(request.query_params))


def _error_code(fields: Mapping[str, str]) -> int | None:
    value = fields.get("ErrorCode") or ""
    return int(value) if value.isdigit() else None


def handle_status(*, db_session: Session, form: TwilioForm) -> Message | None:
    """Apply a status callback to its message (found by SID, else by the key in the URL)."""
    sid = form.fields.get("MessageSid") or form.fields.get("SmsSid") or ""
    status = form.fields.get("MessageStatus") or form.fields.get("SmsStatus") or ""
    if not sid or not status:
        return None
    message = db_session.scalar(
        select(Message).where(Message.provider_sid == sid).with_for_update()
    )
    key = form.query.get("k")
    if message is None and key:
        message = db_session.scalar(
            select(Message).where(Message.idempotency_key == key).with_for_update()
        )
    if message is None:
        log.info("status callback for unknown message %s (%s)", sid, status)
        return None
    tracking.apply(
        message,
        sid=sid,
        status=status,
        now=utcnow(),
        source="callback",
        error_code=_error_code(form.fields),
    )
    db_session.flush()
    return message


def keyword_of(body: str) -> tuple[str | None, bool]:
    """The keyword an inbound body is (stop/start/help) and whether it is a custom one of ours."""
    word = _TRIM.sub("", body).upper()
    for name, twilio_words, ours in (
        ("stop", TWILIO_STOP, OUR_STOP),
        ("start", TWILIO_START, OUR_START),
        ("help", TWILIO_HELP, OUR_HELP),
    ):
        if word in twilio_words:
            return name, False
        if word in ours:
            return name, True
    return None, False


def handle_inbound(*, db_session: Session, form: TwilioForm) -> InboundResult:
    """Record an inbound SMS and apply its keyword; the reply, if we owe one, for TwiML."""
    sid = form.fields.get("MessageSid") or form.fields.get("SmsSid") or ""
    phone = form.fields.get("From", "")
    body = form.fields.get("Body", "")
    keyword, ours = keyword_of(body)
    opt_out_type = (form.fields.get("OptOutType") or "").lower()
    if opt_out_type in ("stop", "start", "help"):
        keyword, ours = opt_out_type, False  # Twilio's Advanced Opt-Out decided, and answered
    resident = residents_queries.contact_by_phone(db_session, phone)
    if sid and db_session.scalar(
        select(InboundMessage.id).where(InboundMessage.provider_sid == sid)
    ):
        return InboundResult(keyword, _reply(keyword, ours))  # a retry by Twilio
    db_session.add(
        InboundMessage(
            provider_sid=sid or f"unknown-{utcnow().timestamp()}",
            from_phone=phone,
            to_phone=form.fields.get("To", ""),
            body_redacted=redact(body)[:1000],
            keyword=keyword,
            resident_id=resident.id if resident else None,
        )
    )
    if keyword in ("stop", "start") and phone:
        service.set_opt_out(
            db_session=db_session,
            phone=phone,
            opted_out=keyword == "stop",
            keyword=_TRIM.sub("", body)[:20],
            source="inbound",
        )
    db_session.flush()
    return InboundResult(keyword, _reply(keyword, ours))


def _reply(keyword: str | None, ours: bool) -> str | None:
    """Twilio answers its own keywords; we answer ours (Chinese carriers' words) in Chinese."""
    if keyword is None or not ours:
        return None
    return render.render(f"{keyword}_reply", "zh", {}).body


def twiml(reply: str | None) -> str:
    """A TwiML answer: the reply as a message, or nothing."""
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)
