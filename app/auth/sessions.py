"""Which tokens still work: signed-out token ids, and the subject's token version.

A token names its subject, role, id (`jti`) and the subject's token version when it was issued.
It stops working when it is signed out (its id is stored until it would have expired), when the
subject's version moves on (password change, deactivation: every token at once), or when the
account is disabled or gone. The API's dependencies and the pages' cookie sessions both ask here.
"""

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import TypeVar

from sqlalchemy import ColumnElement, bindparam, delete, select
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
from app.residents import queries as residents_queries
from app.residents import service as residents_service
from app.residents.queries import ResidentAccount
from app.staff import queries as staff_queries
from app.staff import service as staff_service
from app.staff.queries import StaffAccount

_Subject = TypeVar("_Subject")


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


@cache
def _resident_check() -> residents_queries.ResidentAccountCheck:
    """The resident and whether the token `:token_id` was signed out, one statement built once."""
    return residents_queries.ResidentAccountCheck(_signed_out())


@cache
def _staff_check() -> staff_queries.StaffAccountCheck:
    """The staff account and whether the token `:token_id` was signed out, built once."""
    return staff_queries.StaffAccountCheck(_signed_out())


def _signed_out() -> ColumnElement[bool]:
    """Whether the token `:token_id` was signed out, as a condition to read with its subject."""
    token_id = bindparam("token_id", type_=RevokedToken.token_id.type)
    return select(RevokedToken.token_id).where(RevokedToken.token_id == token_id).exists()


def _subject_unless_signed_out(
    db_session: Session, principal: Principal, found: tuple[_Subject, bool] | None
) -> _Subject | None:
    """The subject read with the signed-out check; NotAuthenticated if this very token was
    signed out."""
    if found is None:
        check_not_signed_out(db_session, principal)
        return None
    subject, signed_out = found
    if signed_out:
        raise _refused(TokenSignedOut, "this token was signed out; log in again")
    return subject


def live_resident(db_session: Session, principal: Principal) -> ResidentAccount:
    """The resident a resident token names, if the token still works (one round trip)."""
    if principal.token_id is None:
        resident = residents_queries.resident_account(db_session, principal.subject_id)
    else:
        found = _resident_check()(db_session, principal.subject_id, token_id=principal.token_id)
        resident = _subject_unless_signed_out(db_session, principal, found)
    if resident is None or not resident.active:
        raise _refused(AccountUnavailable, "account disabled or unknown")
    _check_version(principal, resident.token_version)
    return resident


def live_staff(db_session: Session, principal: Principal, roles: Iterable[Role]) -> StaffAccount:
    """The active staff account a staff token names, if the token still works."""
    if principal.role not in tuple(roles):
        raise _refused(TokenWrongRole, "wrong role")
    if principal.token_id is None:
        user = staff_queries.staff_account(db_session, principal.subject_id)
    else:
        found = _staff_check()(db_session, principal.subject_id, token_id=principal.token_id)
        user = _subject_unless_signed_out(db_session, principal, found)
    if user is None or not user.active or user.role != principal.role:
        raise _refused(AccountUnavailable, "account disabled or unknown")
    _check_version(principal, user.token_version)
    return user


def sign_out(db_session: Session, principal: Principal, *, now: datetime | None = None) -> None:
    """Revoke the presented token (idempotent). A token without an id (issued before ids
    existed) revokes all of its subject's tokens instead."""
    now = now or utcnow()
    if principal.token_id is None:
        if principal.role == "resident":
            residents_service.revoke_tokens(db_session=db_session, resident_id=principal.subject_id)
        else:
            staff_service.revoke_tokens(db_session=db_session, staff_id=principal.subject_id)
        return
    insert = dialect_insert(db_session, RevokedToken).values(
        token_id=principal.token_id, expires_at=now + access_token_ttl()
    )
    db_session.execute(insert.on_conflict_do_nothing(index_elements=[RevokedToken.token_id]))


def purge(db_session: Session, *, now: datetime | None = None) -> int:
    """Forget signed-out tokens that have expired anyway; rows deleted."""
    now = now or utcnow()
    result = db_session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
