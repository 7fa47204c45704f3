"""Login endpoints (the only unauthenticated ones besides health and webhooks).

Also mounts the operators' staff-account endpoints (app.staff.routes).
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.auth import ratelimit, sessions
from app.auth import service as auth_service
from app.auth.deps import CurrentPrincipal
from app.auth.schemas import (
    LoginCodeRequest,
    LoginCodeSent,
    ResidentToken,
    ResidentTokenRequest,
    StaffLogin,
    StaffToken,
)
from app.core.db import SessionDep
from app.core.errors import DomainError
from app.core.security import access_token_ttl
from app.core.settings import get_settings
from app.residents import service as residents_service
from app.staff import routes as staff_routes
from app.staff import service as staff_service

router = APIRouter()
router.include_router(staff_routes.router)

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests or locked out; see Retry-After"}
}


def _client(request: Request) -> str:
    """The caller's address (behind a proxy listed in TRUSTED_PROXIES, the address it forwarded
    for; see app.core.forwarded)."""
    return ratelimit.client_key(request.client.host if request.client else None)


@contextmanager
def _keep_on_refusal(db: Session) -> Iterator[None]:
    """Commit what a refused login recorded (wrong-code counts, lockouts) before answering."""
    try:
        yield
    except DomainError:
        db.commit()
        raise


@router.post(
    "/auth/resident/code",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["auth"],
    summary="Send a one-time login code by SMS",
    responses=_RATE_LIMITED,
)
def request_code(body: LoginCodeRequest, request: Request, db: SessionDep) -> LoginCodeSent:
    """Text a 6-digit code to the phone; the answer never tells whether it is registered."""
    phone = residents_service.normalize_phone(body.phone)
    auth_service.count_request(db_session=db, action="code", subject=phone, client=_client(request))
    issued = auth_service.request_login_code(db_session=db, phone=phone, language=body.language)
    db.commit()
    auth_service.send_login_code(issued=issued)
    return LoginCodeSent(
        detail="If this number can receive SMS, a login code is on its way.",
        expires_in=get_settings().login_code_ttl_seconds,
    )


@router.post(
    "/auth/resident/token",
    tags=["auth"],
    summary="Log in (or register) with the code from the SMS",
    responses={401: {"description": "Wrong or expired code"}, **_RATE_LIMITED},
)
def resident_token(body: ResidentTokenRequest, request: Request, db: SessionDep) -> ResidentToken:
    """A bearer token for the resident; a new number registers in `neighborhood_id`."""
    phone = residents_service.normalize_phone(body.phone)
    auth_service.count_request(
        db_session=db, action="token", subject=phone, client=_client(request)
    )
    with _keep_on_refusal(db):
        login = auth_service.login_resident(
            db_session=db,
            phone=phone,
            code=body.code,
            client=_client(request),
            neighborhood_id=body.neighborhood_id,
            name=body.name,
            language=body.language,
        )
    db.commit()
    return ResidentToken(
        access_token=login.access_token,
        expires_in=int(access_token_ttl().total_seconds()),
        created=login.created,
        resident=login.resident,
    )


def _validation_error(errors: Sequence[Mapping[str, Any]]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in errors]
    )


async def staff_credentials(request: Request) -> StaffLogin:
    """Username and password from a JSON body or an OAuth2 password form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    data: Any
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        data = {key: values[0] for key, values in form.items() if key in ("username", "password")}
    else:
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            raise _validation_error(
                [{"type": "json_invalid", "loc": (), "msg": "body must be JSON or a form"}]
            ) from None
    try:
        return StaffLogin.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc.errors()) from None


_STAFF_LOGIN_SCHEMA = StaffLogin.model_json_schema()
_STAFF_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _STAFF_LOGIN_SCHEMA,
                "example": {"username": "operator", "password": "correct horse battery staple"},
            },
            "application/x-www-form-urlencoded": {"schema": _STAFF_LOGIN_SCHEMA},
        },
    }
}


@router.post(
    "/auth/staff/token",
    tags=["auth"],
    summary="Log in as an operator or driver",
    openapi_extra=_STAFF_LOGIN_BODY,
    responses={
        401: {"description": "Wrong username or password"},
        403: {"description": "Account disabled"},
        **_RATE_LIMITED,
    },
)
def staff_token(
    credentials: Annotated[StaffLogin, Depends(staff_credentials)],
    request: Request,
    db: SessionDep,
) -> StaffToken:
    """A bearer token carrying the account's role (JSON, or the OAuth2 password form of /docs)."""
    username = staff_service.normalize_username(credentials.username)
    auth_service.count_request(
        db_session=db, action="staff", subject=username, client=_client(request)
    )
    with _keep_on_refusal(db):
        login = auth_service.login_staff(
            db_session=db,
            username=username,
            password=credentials.password,
            client=_client(request),
        )
    db.commit()
    return StaffToken(
        access_token=login.access_token,
        expires_in=int(access_token_ttl().total_seconds()),
        role=login.user.role,
        staff=login.user,
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["auth"],
    summary="Sign out: the presented token stops working",
    responses={401: {"description": "Missing, invalid or already revoked token"}},
)
def logout(principal: CurrentPrincipal, db: SessionDep) -> Response:
    """Revoke the bearer token this request carries (other sessions stay signed in)."""
    sessions.sign_out(db, principal)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
