"""Domain exceptions and the one handler that maps them to HTTP answers naming field and reason."""

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

DATABASE_RETRY_AFTER_SECONDS = 1


# Every named case by its `case` code (a code may name the same situation in several
# packages, e.g. `illegal_transition`), for the OpenAPI schema.
ERROR_CASES: dict[str, list[type["DomainError"]]] = {}


class DomainError(Exception):
    """A refusal the client can act on: which field, and why.

    `code` is the family (`conflict`, `not_found`, ...) and shows as the body's `type`; `case`
    names the one situation (`window_closed`, `stock_exhausted`) and shows as its `code`. Raise
    a named subclass per case, never a family class itself (`scripts/check` enforces it)."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"
    case: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "case" not in cls.__dict__:
            # A class that names its own `code` is a case of that name; a family is its own case.
            cls.case = cls.__dict__.get("code", cls.code)
        ERROR_CASES.setdefault(cls.case, []).append(cls)

    def __init__(self, reason: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The error as the API shows it."""
        parts = self.field.split(".") if self.field else []
        loc = parts if parts[:1] in (["path"], ["query"], ["header"]) else ["body", *parts]
        item: dict[str, Any] = {
            "loc": loc,
            "msg": self.reason,
            "type": self.code,
            "code": self.case or self.code,
        }
        if self.extra:
            item["ctx"] = self.extra
        return {"detail": [item]}


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"


_HEADER_FIELDS = frozenset({"authorization", "origin"})


def locate(loc: list[Any], request: Request) -> list[Any]:
    """Where a refused value came from: a field named only by its name (`["body", name]`) is
    placed in the path, the query string or the headers when the request carried it there."""
    if len(loc) != 2 or loc[0] != "body" or not isinstance(loc[1], str):
        return loc
    name = loc[1]
    if name in request.path_params:
        return ["path", name]
    if name in request.query_params:
        return ["query", name]
    header = name.lower().replace("_", "-")
    if header in _HEADER_FIELDS:
        return ["header", header]
    return loc


def install_error_handlers(app: FastAPI) -> None:
    """Answer every DomainError with its status, field and reason."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        if isinstance(exc, TooManyRequests) and "retry_after_seconds" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after_seconds"])}
        body = exc.to_dict()
        for item in body["detail"]:
            item["loc"] = locate(item["loc"], request)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    app.add_exception_handler(DomainError, handle)
    install_database_outage_handler(app)


def install_database_outage_handler(app: FastAPI) -> None:
    """A database that cannot be reached (restarted, failing over, connection dropped, pool
    exhausted) answers 503 with Retry-After instead of 500: the transaction was rolled back, so
    the client may retry (with the same Idempotency-Key where it has one). Other database
    errors stay 500. Logged without the statement or its parameters (personal data)."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        unreachable = isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError
        ) or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)
        if not unreachable:
            raise exc
        orig = getattr(exc, "orig", None)
        logging.getLogger("app.database").warning(
            "database unavailable, answered 503: %s%s",
            type(exc).__name__,
            f" ({type(orig).__module__}.{type(orig).__name__})" if orig is not None else "",
        )
        body = {
            "detail": [
                {
                    "loc": [],
                    "msg": "the database is unavailable for a moment; retry shortly",
                    "type": "service_unavailable",
                    "code": "database_unavailable",
                }
            ]
        }
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
        return JSONResponse(body, status_code=503, headers=headers)

    for error in (sa_exc.DBAPIError, sa_exc.TimeoutError):
        app.add_exception_handler(error, handle)
