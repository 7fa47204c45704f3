"""Which tokens still work: signed-out token ids, and the subject's token version.

A token names its subject, role, id (`jti`) and the subject's token version when it was issued.
It stops working when it is signed out (its id is stored until it would have expired), when the
subject's version moves on (password change, deactivation: every token at once), or when the
account is disabled or gone. The API's dependencies and the pages' cookie sessions both ask here.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth.errors import (
    AccountUnavailable,
    TokenRevoked,
    TokenSignedOut,
    TokenWrongRole,
)
from app.auth.models import RevokedToken
from app.auth.ratelimit import dialect_insert
from app.core.db import utcnow
from app.core.errors import NotAuthenticated
from app.core.security import Principal, Role, access_token_ttl
from app.residents.models import Resident
from app.staff.models import StaffUser

_Subject = TypeVar("_Subject", Resident, StaffUser)


def _refused(refusal: type[NotAuthenticated], reason: str) -> NotAuthenticated:
    return refusal(reason, field="authorization")


def check_not_signed_out(db_session: Session, principal: Principal) -> None:
    """NotAuthenticated if this very token was signed out."""
    if (
        principal.token_id is not None
        and db_session.get(RevokedToken, principal.token_id) is not None
    ):
        raise _refused(TokenSignedOut, "this token was signed out; log in again")


def _check_version(principal: Principal, current: int) -> None:
    if principal.token_version != current:
        raise _refused(TokenRevoked, "this token was revoked; log in again")


def _subject_unless_signed_out(
    db_session: Session, model: type[_Subject], principal: Principal
) -> _Subject | None:
    """The token's subject, read in the same statement as the signed-out check (a request
    pays one round trip for both); NotAuthenticated if this very token was signed out."""
    if principal.token_id is None:
        return db_session.get(model, principal.subject_id)
    signed_out = select(RevokedToken.token_id).where(RevokedToken.token_id == principal.token_id)
    row = db_session.execute(
        select(model, signed_out.exists()).where(model.id == principal.subject_id)
    ).first()
    if row is None:
        check_not_signed_out(db_session, principal)
        return None
    if row[1]:
        raise _refused(TokenSignedOut, "this token was signed out; log in again")
    return row[0]


def live_resident(db_session: Session, principal: Principal) -> Resident:
    """The resident a resident token names, if the token still works."""
    resident = _subject_unless_signed_out(db_session, Resident, principal)
    if resident is None or not resident.active:
        raise _refused(AccountUnavailable, "account disabled or unknown")
    _check_version(principal, resident.token_version)
    return resident


def live_staff(db_session: Session, principal: Principal, roles: Iterable[Role]) -> StaffUser:
    """The active staff account a staff token names, if the token still works."""
    if principal.role not in tuple(roles):
        raise _refused(TokenWrongRole, "wrong role")
    user = _subject_unless_signed_out(db_session, StaffUser, principal)
    if user is None or not user.active or user.role != principal.role:
        raise _refused(AccountUnavailable, "account disabled or unknown")
    _check_version(principal, user.token_version)
    return user


def sign_out(db_session: Session, principal: Principal, *, now: datetime | None = None) -> None:
    """Revoke the presented token (idempotent). A token without an id (issued before ids
    existed) revokes all of its subject's tokens instead."""
    now = now or utcnow()
    if principal.token_id is None:
        subject: Resident | StaffUser | None = (
            db_session.get(Resident, principal.subject_id)
            if principal.role == "resident"
            else db_session.get(StaffUser, principal.subject_id)
        )
        if subject is not None:
            revoke_all(db_session, subject)
        return
    insert = dialect_insert(db_session, RevokedToken).values(
        token_id=principal.token_id, expires_at=now + access_token_ttl()
    )
    db_session.execute(insert.on_conflict_do_nothing(index_elements=[RevokedToken.token_id]))


def revoke_all(db_session: Session, subject: Resident | StaffUser) -> None:
    """Revoke every token the resident or staff account holds (they log in again)."""
    subject.token_version += 1
    db_session.flush()


def purge(db_session: Session, *, now: datetime | None = None) -> int:
    """Forget signed-out tokens that have expired anyway; rows deleted."""
    now = now or utcnow()
    result = db_session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
