"""Operator and driver accounts: create, find, enable or disable, and check passwords."""

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as update_statement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.errors import AccountDisabled, WrongCredentials
from app.cities import service as city_service
from app.cities.service import UnknownCity
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_password, password_needs_rehash, verify_password
from app.staff.models import StaffRole, StaffUser
from app.staff.queries import StaffAccount

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128


class PasswordTooShort(InvalidInput):
    """The new password has fewer than PASSWORD_MIN_LENGTH characters."""

    case = "password_too_short"


class PasswordTooLong(InvalidInput):
    """The new password has more than PASSWORD_MAX_LENGTH characters."""

    case = "password_too_long"


class PasswordBlank(InvalidInput):
    """The new password is only whitespace."""

    case = "password_blank"


class InvalidUsername(InvalidInput):
    """The username is not 3-80 letters, digits, '.', '_' or '-' starting with a letter or digit."""

    case = "invalid_username"


class InvalidStaffRole(InvalidInput):
    """A staff role is operator or driver."""

    case = "invalid_staff_role"


class UsernameTaken(Conflict):
    """Another staff account has this username."""

    case = "username_taken"


class StaffNotFound(NotFound):
    """The operator's city has no staff account with this id."""

    case = "staff_not_found"


class CannotDisableSelf(InvalidInput):
    """An operator cannot disable their own account."""

    case = "cannot_disable_self"


def normalize_username(username: str) -> str:
    """The username as stored: trimmed and lower-case."""
    return (username or "").strip().lower()


def check_password(password: str, *, field: str = "password") -> str:
    """The password if it is acceptable as a new password, else InvalidInput naming `field`."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordTooShort(
            f"password must have at least {PASSWORD_MIN_LENGTH} characters", field=field
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordTooLong(
            f"password must have at most {PASSWORD_MAX_LENGTH} characters", field=field
        )
    if not password.strip():
        raise PasswordBlank("password must not be blank", field=field)
    return password


def get_by_username(*, db_session: Session, username: str) -> StaffUser | None:
    """The account with this username (case-insensitive), if any."""
    name = normalize_username(username)
    return db_session.scalar(select(StaffUser).where(StaffUser.username == name))


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    role: StaffRole | None = None,
    active: bool | None = None,
) -> list[StaffUser]:
    """Accounts by username, optionally of one city, role or state."""
    query = select(StaffUser)
    if city_id is not None:
        query = query.where(StaffUser.city_id == city_id)
    if role is not None:
        query = query.where(StaffUser.role == StaffRole(role))
    if active is not None:
        query = query.where(StaffUser.active == active)
    return list(db_session.scalars(query.order_by(StaffUser.username)))


def create(
    *,
    db_session: Session,
    city_id: int,
    username: str,
    password: str,
    role: StaffRole | str,
    full_name: str = "",
) -> StaffUser:
    """Create an active account with an argon2 hash of the password (at least 10 characters)."""
    name = normalize_username(username)
    if not USERNAME_PATTERN.match(name):
        raise InvalidUsername(
            "username must be 3-80 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="username",
        )
    try:
        staff_role = StaffRole(role)
    except ValueError as exc:
        raise InvalidStaffRole("role must be operator or driver", field="role") from exc
    check_password(password)
    if city_service.get(db_session=db_session, city_id=city_id) is None:
        raise UnknownCity(f"no city {city_id}", field="city_id")
    if get_by_username(db_session=db_session, username=name) is not None:
        raise UsernameTaken(f"username {name!r} is taken", field="username")
    user = StaffUser(
        city_id=city_id,
        username=name,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=staff_role,
        active=True,
    )
    try:
        with db_session.begin_nested():
            db_session.add(user)
            db_session.flush()
    except IntegrityError as exc:
        raise UsernameTaken(f"username {name!r} is taken", field="username") from exc
    return user


def update(
    *,
    db_session: Session,
    account: StaffAccount,
    full_name: str | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> StaffAccount:
    """Change the given fields (None leaves a field as it is); a disabled account cannot log in,
    and a password change or a disabling revokes the account's tokens. The account as it is now;
    nothing is written when nothing changes."""
    changes: dict[str, Any] = {}
    if full_name is not None and full_name.strip() != account.full_name:
        changes["full_name"] = full_name.strip()
    revoke = False
    if active is not None and active != account.active:
        revoke = account.active and not active
        changes["active"] = active
    password_hash = None if password is None else hash_password(check_password(password))
    revoke = revoke or password_hash is not None
    if not changes and password_hash is None:
        return account
    values: dict[str, Any] = dict(changes)
    if password_hash is not None:
        values["password_hash"] = password_hash
    if revoke:  # a new password or a disabled account: every token issued so far stops working
        values["token_version"] = StaffUser.token_version + 1
        changes["token_version"] = account.token_version + 1
    db_session.execute(update_statement(StaffUser).where(StaffUser.id == account.id).values(values))
    return replace(account, **changes)


@lru_cache
def _decoy_hash() -> str:
    return hash_password("decoy password for unknown usernames")


def authenticate(*, db_session: Session, username: str, password: str) -> StaffUser:
    """The account if the password is right and it is active; otherwise 401 (or 403 if disabled).

    Unknown usernames cost the same argon2 check as known ones, so timing tells nothing.
    """
    user = get_by_username(db_session=db_session, username=username)
    if user is None:
        verify_password(_decoy_hash(), password)
        raise WrongCredentials("wrong username or password", field="password")
    if not verify_password(user.password_hash, password):
        raise WrongCredentials("wrong username or password", field="password")
    if not user.active:
        raise AccountDisabled("this account is disabled; ask an operator", field="username")
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db_session.flush()
    return user


def revoke_tokens(*, db_session: Session, staff_id: int) -> None:
    """Revoke every token the account holds (it logs in again); nothing if there is none."""
    db_session.execute(
        update_statement(StaffUser)
        .where(StaffUser.id == staff_id)
        .values(token_version=StaffUser.token_version + 1)
    )
