"""The locker audit log: who did what to a locker, and why. Nothing here commits."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lockers.models import AuditLog


def audit(
    *,
    db_session: Session,
    actor_id: int | None,
    action: str,
    bank_id: int,
    reason: str,
    compartment_id: int | None = None,
    parcel_id: int | None = None,
    command_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Record who did what to a locker, and why."""
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        bank_id=bank_id,
        compartment_id=compartment_id,
        parcel_id=parcel_id,
        command_id=command_id,
        reason=reason,
        details=details or {},
    )
    db_session.add(entry)
    db_session.flush()
    return entry


def get_audit_log(*, db_session: Session, bank_id: int, limit: int = 100) -> list[AuditLog]:
    """A bank's newest audit entries."""
    return list(
        db_session.scalars(
            select(AuditLog)
            .where(AuditLog.bank_id == bank_id)
            .order_by(AuditLog.id.desc())
            .limit(limit)
        )
    )
