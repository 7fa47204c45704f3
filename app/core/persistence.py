"""The small persistence helpers the static-data services share: store a row turning a
unique-constraint race into a named conflict, delete one refused while referenced, apply a
PATCH. Each owner calls them with its own rows (a write here is its caller's)."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import Conflict


class ConcurrentWrite(Conflict):
    """Another request stored a clashing row at the same time; retry."""

    case = "concurrent_write"


class StillReferenced(Conflict):
    """Other rows still refer to what was to be deleted (deactivate it instead where offered)."""

    case = "still_referenced"


def save(
    *,
    db_session: Session,
    obj: Any,
    field: str,
    reason: str,
    refusal: type[Conflict] = ConcurrentWrite,
) -> None:
    """Add and flush `obj` (or a list); a unique-constraint race becomes `refusal` on `field`."""
    try:
        with db_session.begin_nested():
            db_session.add_all(obj if isinstance(obj, list) else [obj])
            db_session.flush()
    except IntegrityError as exc:
        raise refusal(reason, field=field) from exc


def remove(*, db_session: Session, obj: Any, field: str, reason: str) -> None:
    """Delete `obj` (or a list) now; StillReferenced if other rows still refer to it."""
    try:
        with db_session.begin_nested():
            for item in obj if isinstance(obj, list) else [obj]:
                db_session.delete(item)
            db_session.flush()
    except IntegrityError as exc:
        raise StillReferenced(reason, field=field) from exc


def apply(obj: Any, changes: dict[str, Any]) -> None:
    """Set each changed attribute on `obj`."""
    for name, value in changes.items():
        setattr(obj, name, value)
