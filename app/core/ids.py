"""Database ids are 32-bit on PostgreSQL: out-of-range ids in a path are bad input, not a 500."""

from fastapi import Request

from app.core.errors import InvalidInput

MAX_ID = 2**31 - 1


def check_path_ids(request: Request) -> None:
    """App-wide dependency: every integer path parameter must be a positive 32-bit id."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and value.lstrip("-").isdigit() and not 0 < int(value) <= MAX_ID:
            raise InvalidInput(f"must be an id between 1 and {MAX_ID}", field=f"path.{name}")
