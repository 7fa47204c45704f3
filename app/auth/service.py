"""Logins: one-time SMS codes for residents, passwords for staff, and the limits around both.

Codes are stored only as keyed hashes, expire, work once, and a new code replaces older ones.
Wrong codes count per phone; too many lock the phone out for a while. Code requests and login
attempts are rate limited per phone (or username) and per client address, in the database.
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.auth import ratelimit
from app.auth.models import LoginCode, PhoneLockout
from app.core.db import utcnow
from app.core.enums import Language
from app.core.errors import DomainError, InvalidInput, NotAuthenticated, TooManyRequests
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
from app.residents.models import Resident
from app.staff import service as staff_service
from app.staff.models import StaffUser

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
    resident: Resident
    access_token: str
    created: bool


@dataclass(frozen=True)
class StaffLoginResult:
    user: StaffUser
    access_token: str


def count_request(
    *,
    db_session: Session,
    action: Action,
    subject: str,
    client: str,
    now: datetime | None = None,
) -> None:
    """Count a request per client address and per phone/username; TooManyRequests when over.

    A refused request counts under neither key.
    """
    settings = get_settings()
    subject_field = _SUBJECT_FIELD[action]
    with db_session.begin_nested():
        ratelimit.hit(
            db_session=db_session,
            key=f"{action}:ip:{client}",
            limit=settings.rate_limit_per_ip_per_hour,
            reason=f"{_REASONS[action]} from this address",
            now=now,
        )
        ratelimit.hit(
            db_session=db_session,
            key=f"{action}:{subject_field}:{subject}",
            limit=settings.rate_limit_per_phone_per_hour,
            reason=f"{_REASONS[action]} for this {subject_field}",
            field=subject_field,
            now=now,
        )


def _retry_seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _refuse_if_locked(guard: PhoneLockout | None, now: datetime) -> None:
    if guard is not None and guard.locked_until is not None and guard.locked_until > now:
        retry = _retry_seconds(guard.locked_until, now)
        raise TooManyRequests(
            f"too many wrong codes; this number is locked for another {retry} s",
            field="phone",
            retry_after_seconds=retry,
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
    guard = db_session.get(PhoneLockout, e164)
    _refuse_if_locked(guard, now)
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


def _lock_guard(db_session: Session, phone: str) -> PhoneLockout:
    """The phone's lockout row, created if missing and locked for this transaction."""
    insert = ratelimit.dialect_insert(db_session, PhoneLockout).values(
        phone=phone, failed_attempts=0, locked_until=None
    )
    db_session.execute(insert.on_conflict_do_nothing(index_elements=[PhoneLockout.phone]))
    query = (
        select(PhoneLockout)
        .where(PhoneLockout.phone == phone)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db_session.scalars(query).one()


def _count_wrong_code(
    db_session: Session, guard: PhoneLockout, *, now: datetime, expired: bool
) -> DomainError:
    """Record a wrong code; the error to raise (a lockout once the attempts are used up)."""
    settings = get_settings()
    guard.failed_attempts += 1
    if guard.failed_attempts >= settings.login_code_max_attempts:
        guard.failed_attempts = 0
        guard.locked_until = now + timedelta(seconds=settings.login_lockout_seconds)
        db_session.execute(delete(LoginCode).where(LoginCode.phone == guard.phone))
        db_session.flush()
        retry = _retry_seconds(guard.locked_until, now)
        return TooManyRequests(
            f"too many wrong codes; this number is locked for {retry} s",
            field="phone",
            retry_after_seconds=retry,
        )
    db_session.flush()
    left = settings.login_code_max_attempts - guard.failed_attempts
    reason = "this code has expired; request a new one" if expired else "wrong or expired code"
    return NotAuthenticated(reason, field="code", attempts_left=left)


def login_resident(
    *,
    db_session: Session,
    phone: str,
    code: str,
    neighborhood_id: int | None = None,
    name: str | None = None,
    language: Language | None = None,
    now: datetime | None = None,
) -> ResidentLogin:
    """Exchange a valid code for a resident token, registering a new number in a neighborhood.

    Refusals record what they counted (wrong codes, lockouts): the caller commits them too.
    """
    now = now or utcnow()
    e164 = residents_service.normalize_phone(phone)
    guard = _lock_guard(db_session, e164)
    _refuse_if_locked(guard, now)
    # Only the newest code counts: a new code replaces older ones, even one issued concurrently.
    login_code = db_session.scalar(
        select(LoginCode)
        .where(LoginCode.phone == e164)
        .order_by(LoginCode.created_at.desc(), LoginCode.id.desc())
        .limit(1)
    )
    matches = (
        login_code is not None
        and login_code.consumed_at is None
        and codes_match(login_code.code_hash, code, purpose=CODE_PURPOSE)
    )
    if login_code is None or not matches or login_code.expires_at <= now:
        raise _count_wrong_code(db_session, guard, now=now, expired=matches)
    guard.failed_attempts = 0
    guard.locked_until = None
    db_session.flush()

    resident = residents_service.get_by_phone(db_session=db_session, phone=e164)
    if resident is None:
        if neighborhood_id is None:
            raise InvalidInput(
                "this number is not registered yet; give neighborhood_id to register",
                field="neighborhood_id",
            )
        residents_service.check_neighborhood(db_session=db_session, neighborhood_id=neighborhood_id)
    consumed = db_session.execute(
        update(LoginCode)
        .where(LoginCode.id == login_code.id, LoginCode.consumed_at.is_(None))
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(consumed, "rowcount", 0) != 1:
        raise NotAuthenticated("this code has already been used", field="code")
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
    token = create_access_token(Principal(subject_id=resident.id, role="resident"), now=now)
    return ResidentLogin(resident=resident, access_token=token, created=created)


def login_staff(
    *, db_session: Session, username: str, password: str, now: datetime | None = None
) -> StaffLoginResult:
    """Exchange a staff account's password for a token carrying its role."""
    user = staff_service.authenticate(db_session=db_session, username=username, password=password)
    token = create_access_token(Principal(subject_id=user.id, role=user.role.value), now=now)
    return StaffLoginResult(user=user, access_token=token)


def purge_expired(*, db_session: Session, now: datetime | None = None) -> int:
    """Delete expired codes, idle lockout rows and old rate-limit buckets (periodic clean-up)."""
    now = now or utcnow()
    removed = ratelimit.purge(db_session=db_session, now=now)
    for statement in (
        delete(LoginCode).where(
            or_(LoginCode.expires_at <= now, LoginCode.consumed_at.is_not(None))
        ),
        delete(PhoneLockout).where(
            PhoneLockout.failed_attempts == 0,
            or_(PhoneLockout.locked_until.is_(None), PhoneLockout.locked_until <= now),
        ),
    ):
        result = db_session.execute(statement)
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
