"""Annotated FastAPI dependencies of authentication: the caller and role checks.

Every caller is checked against the database too: a signed-out token, a token issued before a
password change or deactivation, or one of a disabled account is refused with 401.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import sessions
from app.auth.errors import MissingBearerToken, ResidentsOnly, RoleRequired
from app.core.db import SessionDep, read_only
from app.core.security import Principal, Role, decode_access_token
from app.residents.queries import ResidentAccount
from app.staff.queries import StaffAccount

_T = TypeVar("_T")

_bearer = HTTPBearer(auto_error=False, description="Bearer token from /auth/*/token")
# The same header, documented a second way so the /docs "Authorize" dialog can log staff in.
_staff_password = OAuth2PasswordBearer(
    tokenUrl="/auth/staff/token",
    scheme_name="StaffPassword",
    description="Operators and drivers: username and password",
    auto_error=False,
)


@dataclass(frozen=True)
class Caller:
    """The bearer token's principal and the live account it names (read once per request)."""

    principal: Principal
    account: ResidentAccount | StaffAccount

    @property
    def resident(self) -> ResidentAccount | None:
        """The resident calling, None for staff."""
        return self.account if isinstance(self.account, ResidentAccount) else None

    @property
    def staff(self) -> StaffAccount | None:
        """The staff account calling, None for a resident."""
        return self.account if isinstance(self.account, StaffAccount) else None


async def get_token_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _documented: Annotated[str | None, Depends(_staff_password)] = None,
) -> Principal:
    """The principal the bearer token names: present, signed by us, not expired; whether it
    still works is `caller_of`'s question (the database's)."""
    if credentials is None:
        raise MissingBearerToken("missing bearer token", field="authorization")
    return decode_access_token(credentials.credentials)


TokenPrincipal = Annotated[Principal, Depends(get_token_principal)]


def caller_of(db: Session, principal: Principal) -> Caller:
    """The caller the token's principal names, if the token still works (reads the database:
    call it in a worker thread)."""
    if principal.role == "resident":
        return Caller(principal, sessions.live_resident(db, principal))
    return Caller(principal, sessions.live_staff(db, principal, (principal.role,)))


def get_caller(principal: TokenPrincipal, db: SessionDep) -> Caller:
    """The caller named by the bearer token, if the token still works."""
    return caller_of(db, principal)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_principal(caller: CurrentCaller) -> Principal:
    """The principal of a token that still works."""
    return caller.principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def resident_of(caller: Caller) -> ResidentAccount:
    """The resident calling, or 403 for staff tokens."""
    if caller.resident is None:
        raise ResidentsOnly("this endpoint is for residents", field="authorization")
    return caller.resident


async def get_current_resident(caller: CurrentCaller) -> ResidentAccount:
    """The resident calling, or 403 for staff tokens."""
    return resident_of(caller)


async def as_resident(
    db: Session,
    principal: Principal,
    work: Callable[[ResidentAccount], _T],
    *,
    reads_only: bool = False,
) -> _T:
    """`work` for the resident calling, in one hop to a worker thread with the caller's check
    (what `CurrentResident` runs): for an `async` route taking `TokenPrincipal` and
    `SessionDep`, so neither the caller's dependency, the route nor the session's end takes a
    hop of its own. `reads_only`: the session is `read_only` (no BEGIN, no ROLLBACK)."""
    if reads_only:
        read_only(db)
    return await run_in_threadpool(lambda: work(resident_of(caller_of(db, principal))))


def require_staff(*roles: Role) -> Callable[[Caller], Awaitable[StaffAccount]]:
    """A dependency that admits active staff accounts holding one of `roles`."""

    async def dependency(caller: CurrentCaller) -> StaffAccount:
        if caller.principal.role not in roles or caller.staff is None:
            raise RoleRequired(f"requires role {' or '.join(roles)}", field="authorization")
        return caller.staff

    return dependency


CurrentResident = Annotated[ResidentAccount, Depends(get_current_resident)]
CurrentOperator = Annotated[StaffAccount, Depends(require_staff("operator"))]
CurrentDriver = Annotated[StaffAccount, Depends(require_staff("driver"))]
CurrentStaff = Annotated[StaffAccount, Depends(require_staff("operator", "driver"))]
