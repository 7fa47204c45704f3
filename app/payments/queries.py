"""Reading the ledger for other packages: plain values, never the model."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.payments.models import LedgerEntry


@dataclass(frozen=True)
class LedgerLine:
    """A charge or refund (`kind` as its string value)."""

    kind: str
    amount_minor: int
    currency: str
    reason: str
    created_at: datetime


def ledger_of_order(db_session: Session, order_id: int) -> list[LedgerLine]:
    """Every charge and refund of the order, in id order."""
    entries = db_session.scalars(
        select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.id)
    )
    return [
        LedgerLine(str(e.kind.value), e.amount_minor, e.currency, e.reason, e.created_at)
        for e in entries
    ]
