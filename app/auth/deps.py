"""Annotated FastAPI dependencies of authentication: the caller and role checks.

Every caller is checked against the database too: a signed-out token, a token issued before a
password change or deactivation, or one of a disabled account is refused with 401.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app.auth import sessions
from app.core.db import SessionDep
from app.core.errors import Forbidden, NotAuthenticated
from app.core.security import Principal, Role, decode_access_token
from app.residents.models import Resident
from app.staff.models import StaffUser

_bearer = HTTPBearer(auto_error=False, description="Bearer token from /auth/*/token")
# The same header, documented a second way so the /docs "Authorize" dialog can log staff in.
_staff_password = OAuth2PasswordBearer(
    tokenUrl="/auth/staff/token",
    scheme_name="StaffPassword",
    description="Operators and drivers: username and password",
    auto_error=False,
)


def get_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    db: SessionDep,
    _documented: Annotated[str | None, Depends(_staff_password)] = None,
) -> Principal:
    """The caller named by the bearer token, if the token still works."""
    if credentials is None:
        raise NotAuthenticated("missing bearer token", field="authorization")
    principal = decode_access_token(credentials.credentials)
    if principal.role == "resident":
        sessions.live_resident(db, principal)
    else:
        sessions.live_staff(db, principal, (principal.role,))
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_current_resident(principal: CurrentPrincipal, db: SessionDep) -> Resident:
    """The resident calling, or 403 for staff tokens."""
    if principal.role != "resident":
        raise Forbidden("this endpoint is for residents", field="authorization")
    return sessions.live_resident(db, principal)


def require_staff(*roles: Role) -> Callable[[CurrentPrincipal, Session], StaffUser]:
    """A dependency that admits active staff accounts holding one of `roles`."""

    def dependency(principal: CurrentPrincipal, db: SessionDep) -> StaffUser:
        if principal.role not in roles:
            raise Forbidden(f"requires role {' or '.join(roles)}", field="authorization")
        return sessions.live_staff(db, principal, roles)

    return dependency


CurrentResident = Annotated[Resident, Depends(get_current_resident)]
CurrentOperator = Annotated[StaffUser, Depends(require_staff("operator"))]
CurrentDriver = Annotated[StaffUser, Depends(require_staff("driver"))]
CurrentStaff = Annotated[StaffUser, Depends(require_staff("operator", "driver"))]
