"""Domain exceptions and the one handler that maps them to HTTP answers naming field and reason."""

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class DomainError(Exception):
    """A refusal the client can act on: which field, and why."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __init__(self, reason: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """The error as the API shows it."""
        parts = self.field.split(".") if self.field else []
        loc = parts if parts[:1] in (["path"], ["query"], ["header"]) else ["body", *parts]
        item: dict[str, Any] = {"loc": loc, "msg": self.reason, "type": self.code}
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


def install_error_handlers(app: FastAPI) -> None:
    """Answer every DomainError with its status, field and reason."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        if isinstance(exc, TooManyRequests) and "retry_after_seconds" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after_seconds"])}
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    app.add_exception_handler(DomainError, handle)
