"""Database ids are 32-bit on PostgreSQL: out-of-range ids in a path are bad input, not a 500."""

from typing import Any

from fastapi import FastAPI, Request

from app.core.errors import InvalidInput
from app.core.limits import MAX_ID

__all__ = ["MAX_ID", "IdOutOfRange", "check_path_ids", "document_path_ids"]


class IdOutOfRange(InvalidInput):
    """An integer id in the path is outside 1..MAX_ID (the database's 32-bit ids)."""

    case = "id_out_of_range"


async def check_path_ids(request: Request) -> None:
    """App-wide dependency: every integer path parameter must be a positive 32-bit id (async:
    pure checks, no hop to the threadpool on every request)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and value.lstrip("-").isdigit() and not 0 < int(value) <= MAX_ID:
            raise IdOutOfRange(f"must be an id between 1 and {MAX_ID}", field=f"path.{name}")


def document_path_ids(app: FastAPI) -> None:
    """Say in the OpenAPI what `check_path_ids` enforces: integer path ids are 1..MAX_ID."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    schema = parameter.get("schema", {})
                    if parameter.get("in") == "path" and schema.get("type") == "integer":
                        schema.setdefault("minimum", 1)
                        schema.setdefault("maximum", MAX_ID)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
