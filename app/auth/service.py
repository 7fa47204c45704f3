"""Logins: one-time SMS codes for residents, passwords for staff, and the limits around both.

Codes are stored only as keyed hashes, expire, work once, and a new code replaces older ones.
Wrong codes count against the issued code (a few tries burn it; the owner asks for a fresh one)
and against the caller's address, which backs off exponentially; staff failures back off per
address and per username. Nothing a stranger does locks the owner out: no phone or username is
ever locked, and codes go only to the countries served. Code requests and login attempts are
also rate limited per address (and code requests per phone), in the database.
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.auth import backoff, ratelimit, sessions, sms_countries
from app.auth.errors import (
    AccountDisabled,
    LoginCodeExpired,
    LoginCodeUsed,
    NeighborhoodRequired,
    WrongLoginCode,
)
from app.auth.models import LoginCode
from app.core.db import utcnow
from app.core.enums import Language
from app.core.errors import DomainError, NotAuthenticated
from app.core.security import (
    Principal,
    codes_match,
    create_access_token,
    hash_code,
    new_numeric_code,
)
from app.core.settings import get_settings
from app.core.sms import SmsSender, get_sms_sender, redact
from app.residents import service as residents_service
from app.residents.schemas import ResidentRead
from app.staff import service as staff_service
from app.staff.schemas import StaffRead

log = logging.getLogger(__name__)

CODE_PURPOSE = "login"
CODE_DIGITS = 6
Action = Literal["code", "token", "staff"]

_CODE_SMS = {
    Language.EN: "Pickup: your login code is {code}. It expires in {minutes} min. "
    "Never share it with anyone.",
    Language.ZH: "【Pickup】您的登录验证码为 {code}，{minutes} 分钟内有效。请勿向任何人透露。",
}
_SUBJECT_FIELD: dict[Action, str] = {"code": "phone", "token": "phone", "staff": "username"}
_REASONS: dict[Action, str] = {
    "code": "too many code requests",
    "token": "too many login attempts",
    "staff": "too many login attempts",
}


class SmsUnavailable(DomainError):
    """The SMS provider failed to take the login code; request a new code in a minute."""

    status_code = 503
    code = "sms_unavailable"


@dataclass(frozen=True)
class IssuedCode:
    """A code just issued, to send once the transaction is committed (never logged)."""

    phone: str
    language: Language
    expires_at: datetime
    code: str = field(repr=False)


@dataclass(frozen=True)
class ResidentLogin:
    resident: ResidentRead
    access_token: str
    created: bool


@dataclass(frozen=True)
class StaffLoginResult:
    user: StaffRead
    access_token: str


def count_request(
    *,
    db_session: Session,
    action: Action,
    subject: str,
    client: str,
    now: datetime | None = None,
) -> None:
    """Count a request per client address (every action) and, for code requests, per phone
    from this address and per phone from all addresses; TooManyRequests when over.

    Logins are not counted per phone or username: a stranger could spend the owner's budget.
    Wrong codes count against the issued code, failures back off per address (and per username
    for staff) instead. A refused request counts under no key.
    """
    settings = get_settings()
    with db_session.begin_nested():
        ratelimit.hit(
            db_session=db_session,
            key=f"{action}:ip:{client}",
            limit=settings.rate_limit_per_ip_per_hour,
            reason=f"{_REASONS[action]} from this address",
            now=now,
        )
        if action != "code":
            return
        ratelimit.hit(
            db_session=db_session,
            key=f"code:phone-ip:{subject}|{client}",
            limit=settings.rate_limit_per_phone_per_hour,
            reason="too many code requests for this phone from this address",
            field="phone",
            now=now,
        )
        ratelimit.hit(
            db_session=db_session,
            key=f"code:phone:{subject}",
            limit=settings.rate_limit_codes_per_phone_per_hour,
            reason="too many code requests for this phone",
            field="phone",
            now=now,
        )


def request_login_code(
    *,
    db_session: Session,
    phone: str,
    language: Language | None = None,
    now: datetime | None = None,
) -> IssuedCode:
    """Issue a fresh code for the phone, replacing older ones; send it after committing.

    The answer is the same whether or not the phone belongs to a resident.
    """
    now = now or utcnow()
    e164 = residents_service.normalize_phone(phone)
    sms_countries.check_destination(db_session, e164)
    resident = residents_service.get_by_phone(db_session=db_session, phone=e164)
    sms_language = resident.language if resident is not None else (language or Language.EN)
    db_session.execute(delete(LoginCode).where(LoginCode.phone == e164))
    code = new_numeric_code(CODE_DIGITS)
    expires_at = now + timedelta(seconds=get_settings().login_code_ttl_seconds)
    db_session.add(
        LoginCode(
            phone=e164,
            code_hash=hash_code(code, purpose=CODE_PURPOSE),
            expires_at=expires_at,
            created_at=now,
        )
    )
    db_session.flush()
    return IssuedCode(phone=e164, language=Language(sms_language), expires_at=expires_at, code=code)


def send_login_code(*, issued: IssuedCode, sender: SmsSender | None = None) -> None:
    """Send the code by SMS in the resident's language; SmsUnavailable if the provider fails."""
    minutes = math.ceil(get_settings().login_code_ttl_seconds / 60)
    body = _CODE_SMS[issued.language].format(code=issued.code, minutes=minutes)
    try:
        (sender or get_sms_sender()).send(to=issued.phone, body=body)
    except Exception as exc:
        # No traceback: the provider's error may quote the message, and so the code.
        log.error(
            "login code SMS to %s failed: %s: %s",
            issued.phone,
            type(exc).__name__,
            redact(str(exc)),
        )
        raise SmsUnavailable(
            "the SMS could not be sent just now; request a new code in a minute", field="phone"
        ) from exc


def _code_failure(
    db_session: Session,
    *,
    client_key: str,
    now: datetime,
    reason: str,
    refusal: type[NotAuthenticated] = WrongLoginCode,
    **extra: object,
) -> NotAuthenticated:
    """Count a failed try against the address; the refusal to raise."""
    backoff.record_failure(db_session, client_key, now)
    db_session.flush()
    return refusal(reason, field="code", **extra)


def _spend_attempt(db_session: Session, login_code: LoginCode) -> int | None:
    """Count a wrong try against the code (atomically); tries left, None if already burnt."""
    limit = get_settings().login_code_max_attempts
    counted = db_session.execute(
        update(LoginCode)
        .where(LoginCode.id == login_code.id, LoginCode.failed_attempts < limit)
        .values(failed_attempts=LoginCode.failed_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(counted, "rowcount", 0) != 1:
        return None
    spent = db_session.scalars(
        select(LoginCode.failed_attempts)
        .where(LoginCode.id == login_code.id)
        .execution_options(populate_existing=True)
    ).one()
    return max(0, limit - spent)


def _check_code(
    db_session: Session, *, phone: str, code: str, client: str, now: datetime
) -> LoginCode:
    """The phone's live code if `code` is it; otherwise count the failure and refuse.

    Only the newest code counts (a new code replaces older ones). No live code: nothing to count
    against the phone, the try only counts against the address. A wrong code uses up one of the
    code's tries; the last one burns it, and the owner simply asks for a fresh code.
    """
    client_key = f"resident:ip:{client}"
    backoff.refuse_if_waiting(
        db_session, client_key, now, reason="too many failed logins from this address"
    )
    login_code = db_session.scalar(
        select(LoginCode)
        .where(LoginCode.phone == phone)
        .order_by(LoginCode.created_at.desc(), LoginCode.id.desc())
        .limit(1)
    )
    limit = get_settings().login_code_max_attempts
    if (
        login_code is None
        or login_code.consumed_at is not None
        or login_code.failed_attempts >= limit
    ):
        raise _code_failure(
            db_session, client_key=client_key, now=now, reason="wrong or expired code"
        )
    if not codes_match(login_code.code_hash, code, purpose=CODE_PURPOSE):
        left = _spend_attempt(db_session, login_code)
        reason = "wrong or expired code" if left else "wrong code; it is used up, request a new one"
        raise _code_failure(
            db_session, client_key=client_key, now=now, reason=reason, attempts_left=left or 0
        )
    if login_code.expires_at <= now:
        raise _code_failure(
            db_session,
            client_key=client_key,
            now=now,
            reason="this code has expired; request a new one",
            refusal=LoginCodeExpired,
        )
    return login_code


def login_resident(
    *,
    db_session: Session,
    phone: str,
    code: str,
    client: str,
    neighborhood_id: int | None = None,
    name: str | None = None,
    language: Language | None = None,
    now: datetime | None = None,
) -> ResidentLogin:
    """Exchange a valid code for a resident token, registering a new number in a neighborhood.

    `client` is the caller's address key (see ratelimit.client_key). Refusals record what they
    counted (the code's tries, the address's failures): the caller commits them too.
    """
    now = now or utcnow()
    e164 = residents_service.normalize_phone(phone)
    login_code = _check_code(db_session, phone=e164, code=code, client=client, now=now)
    resident = residents_service.get_by_phone(db_session=db_session, phone=e164)
    if resident is not None and not resident.active:
        raise AccountDisabled("this account is disabled; ask an operator", field="phone")
    if resident is None:
        if neighborhood_id is None:
            raise NeighborhoodRequired(
                "this number is not registered yet; give neighborhood_id to register",
                field="neighborhood_id",
            )
        residents_service.check_neighborhood(db_session=db_session, neighborhood_id=neighborhood_id)
    limit = get_settings().login_code_max_attempts
    consumed = db_session.execute(
        update(LoginCode)
        .where(
            LoginCode.id == login_code.id,
            LoginCode.consumed_at.is_(None),
            LoginCode.failed_attempts < limit,
        )
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:
        raise LoginCodeUsed("this code has already been used", field="code")
    backoff.clear(db_session, f"resident:ip:{client}")
    created = resident is None
    if resident is None:
        assert neighborhood_id is not None
        resident = residents_service.create(
            db_session=db_session,
            phone=e164,
            neighborhood_id=neighborhood_id,
            name=name or "",
            language=language or Language.EN,
        )
    principal = Principal(
        subject_id=resident.id, role="resident", token_version=resident.token_version
    )
    token = create_access_token(principal, now=now)
    return ResidentLogin(
        resident=ResidentRead.model_validate(resident), access_token=token, created=created
    )


def login_staff(
    *,
    db_session: Session,
    username: str,
    password: str,
    client: str,
    now: datetime | None = None,
) -> StaffLoginResult:
    """Exchange a staff account's password for a token carrying its role.

    Failures back off per address and per username. While the username waits, only addresses
    with recent failures are refused unchecked: the right password from an address that has
    not been failing still signs the owner in. Refusals record their failures: commit them too.
    """
    now = now or utcnow()
    name = staff_service.normalize_username(username)
    address_key, user_key = f"staff:ip:{client}", f"staff:user:{name}"
    backoff.refuse_if_waiting(
        db_session, address_key, now, reason="too many failed logins from this address"
    )
    if backoff.recent_failures(db_session, address_key, now):
        backoff.refuse_if_waiting(
            db_session,
            user_key,
            now,
            reason="too many failed logins for this username",
            field="username",
        )
    try:
        user = staff_service.authenticate(db_session=db_session, username=name, password=password)
    except NotAuthenticated:
        backoff.record_failure(db_session, address_key, now)
        backoff.record_failure(db_session, user_key, now)
        db_session.flush()
        raise
    backoff.clear(db_session, address_key, user_key)
    principal = Principal(
        subject_id=user.id, role=user.role.value, token_version=user.token_version
    )
    token = create_access_token(principal, now=now)
    return StaffLoginResult(user=StaffRead.model_validate(user), access_token=token)


def purge_expired(*, db_session: Session, now: datetime | None = None) -> int:
    """Delete expired codes, forgotten failures, expired sign-outs and old rate-limit buckets."""
    now = now or utcnow()
    removed = ratelimit.purge(db_session=db_session, now=now)
    removed += backoff.purge(db_session, now)
    removed += sessions.purge(db_session, now=now)
    result = db_session.execute(
        delete(LoginCode).where(
            or_(LoginCode.expires_at <= now, LoginCode.consumed_at.is_not(None))
        )
    )
    return removed + int(getattr(result, "rowcount", 0) or 0)
