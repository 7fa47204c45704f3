"""The OpenAPI of the error answers: one `Error` schema for every 4xx, and every `code` it can
carry listed with its HTTP status and meaning.

A body item's `type` is the family (`conflict`, `not_found`, a pydantic type for request
validation) and its `code` the one situation (`window_closed`, `stock_exhausted`, `missing`).
The named cases are the DomainError subclasses registered in `ERROR_CASES` when the schema is
first built (the routers are imported by then), the request guards' refusals and the database
outage; request validation adds pydantic's error types."""

from typing import Any, get_args

from fastapi import FastAPI
from pydantic_core.core_schema import ErrorType

from app.core.errors import ERROR_CASES
from app.core.request_guard import GUARD_CASES

ERROR_SCHEMA_REF = "#/components/schemas/Error"
_ITEM_REF = "#/components/schemas/ErrorItem"
CLIENT_ERRORS = "4XX"
_DATABASE_CASE = {
    "code": "database_unavailable",
    "status": [503],
    "type": "service_unavailable",
    "description": "The database is unavailable for a moment; retry after Retry-After.",
}
_ANY_REFUSAL = (
    "Refused: `detail` names the value (`loc`), the reason (`msg`), the family (`type`) and "
    "the case (`code`, see `info.x-error-codes`)."
)


def error_cases() -> list[dict[str, Any]]:
    """Every named case: its code, HTTP status(es), family and what it means, by code."""
    cases: list[dict[str, Any]] = []
    for code, classes in ERROR_CASES.items():
        descriptions = {(cls.__dict__.get("__doc__") or "").strip() for cls in classes} - {""}
        cases.append(
            {
                "code": code,
                "status": sorted({cls.status_code for cls in classes}),
                "type": sorted({cls.code for cls in classes})[0],
                "description": " / ".join(sorted(descriptions))
                or f"Refused ({classes[0].code}); no case of its own named yet.",
            }
        )
    for code, (status, description) in GUARD_CASES.items():
        cases.append({"code": code, "status": [status], "type": code, "description": description})
    cases.append(dict(_DATABASE_CASE))
    return sorted(cases, key=lambda case: (case["code"], case["status"]))


def error_schemas(codes: list[str]) -> dict[str, Any]:
    """The `Error` and `ErrorItem` component schemas, `code` enumerating `codes`."""
    item = {
        "title": "ErrorItem",
        "type": "object",
        "required": ["loc", "msg", "type", "code"],
        "properties": {
            "loc": {
                "title": "Location",
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "description": "Where the refused value was: body, path, query or header first.",
            },
            "msg": {"title": "Message", "type": "string"},
            "type": {
                "title": "Error family",
                "type": "string",
                "description": "The family (`conflict`, `not_found`, `invalid`, ...), or "
                "pydantic's error type for request validation.",
            },
            "code": {
                "title": "Error case",
                "type": "string",
                "enum": codes,
                "description": "The one situation: a case of `info.x-error-codes`, or for "
                "request validation (422) pydantic's error type (`missing`, ...).",
            },
            "ctx": {"title": "Context", "type": "object", "additionalProperties": True},
            "input": {"title": "Input"},
        },
    }
    error = {
        "title": "Error",
        "type": "object",
        "required": ["detail"],
        "properties": {
            "detail": {"title": "Detail", "type": "array", "items": {"$ref": _ITEM_REF}}
        },
    }
    return {"Error": error, "ErrorItem": item}


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}}


def document_error_answers(app: FastAPI) -> None:
    """Every operation's 4xx answers (at least `4XX`) are `Error`, whose `code` enumerates
    every case; `info.x-error-codes` lists each case with its status and meaning."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        cases = error_cases()
        codes = sorted({case["code"] for case in cases} | set(get_args(ErrorType)))
        spec.setdefault("components", {}).setdefault("schemas", {}).update(error_schemas(codes))
        spec["info"]["x-error-codes"] = cases
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status.startswith("4"):
                        response["content"] = _error_content()
                responses.setdefault(
                    CLIENT_ERRORS, {"description": _ANY_REFUSAL, "content": _error_content()}
                )
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
