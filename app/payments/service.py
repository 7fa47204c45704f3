"""Charges and refunds, each recorded once in the ledger under its idempotency key."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Insert, Table, func, insert, select
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.db import utcnow
from app.core.errors import InvalidInput
from app.payments.models import EntryKind, LedgerEntry
from app.payments.provider import PaymentProvider, get_provider


class Order(Protocol):
    """What a charge or refund needs of an order."""

    @property
    def id(self) -> int: ...

    @property
    def resident_id(self) -> int: ...

    @property
    def currency(self) -> str: ...


class AmountNotPositive(InvalidInput):
    """A charge or refund must move a positive amount."""

    case = "amount_not_positive"


def _record(
    *,
    db_session: Session,
    kind: EntryKind,
    order: Order,
    amount_minor: int,
    key: str,
    reason: str,
    provider: PaymentProvider | None,
) -> LedgerEntry:
    existing = db_session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if existing is not None:
        return existing
    entry = _insert(
        db_session=db_session,
        kind=kind,
        order=order,
        amount_minor=amount_minor,
        key=key,
        reason=reason,
        provider=provider,
    )
    db_session.flush()
    return entry


def _insert(
    *,
    db_session: Session,
    kind: EntryKind,
    order: Order,
    amount_minor: int,
    key: str,
    reason: str,
    provider: PaymentProvider | None,
) -> LedgerEntry:
    if amount_minor <= 0:
        raise AmountNotPositive("amount must be positive", field="amount_minor")
    provider = provider or get_provider()
    move = provider.charge if kind is EntryKind.CHARGE else provider.refund
    reference = move(
        resident_id=order.resident_id, amount_minor=amount_minor, currency=order.currency, key=key
    )
    entry = LedgerEntry(
        idempotency_key=key,
        order_id=order.id,
        resident_id=order.resident_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=order.currency,
        provider=provider.name,
        provider_reference=reference,
        reason=reason,
    )
    db_session.add(entry)
    return entry


def charge(
    *,
    db_session: Session,
    order: Order,
    amount_minor: int,
    key: str,
    reason: str,
    provider: PaymentProvider | None = None,
) -> LedgerEntry:
    """Charge the order's resident once per key and record it."""
    return _record(
        db_session=db_session,
        kind=EntryKind.CHARGE,
        order=order,
        amount_minor=amount_minor,
        key=key,
        reason=reason,
        provider=provider,
    )


def charge_new(
    *,
    db_session: Session,
    order: Order,
    amount_minor: int,
    key: str,
    reason: str,
    provider: PaymentProvider | None = None,
) -> None:
    """Charge under a key that cannot exist yet (an order just inserted): no lookup first.

    One INSERT, now (the unique key would refuse a duplicate: IntegrityError).
    """
    if amount_minor <= 0:
        raise AmountNotPositive("amount must be positive", field="amount_minor")
    provider = provider or get_provider()
    reference = provider.charge(
        resident_id=order.resident_id, amount_minor=amount_minor, currency=order.currency, key=key
    )
    db_session.connection().execute(
        _insert_entry(),
        {
            "idempotency_key": key,
            "order_id": order.id,
            "resident_id": order.resident_id,
            "kind": EntryKind.CHARGE,
            "amount_minor": amount_minor,
            "currency": order.currency,
            "provider": provider.name,
            "provider_reference": reference,
            "reason": reason,
            "created_at": utcnow(),
        },
    )


@functools.cache
def _insert_entry() -> Insert:
    return insert(cast(Table, LedgerEntry.__table__))


def refund(
    *,
    db_session: Session,
    order: Order,
    amount_minor: int,
    key: str,
    reason: str,
    provider: PaymentProvider | None = None,
) -> LedgerEntry:
    """Refund the order's resident once per key and record it."""
    return _record(
        db_session=db_session,
        kind=EntryKind.REFUND,
        order=order,
        amount_minor=amount_minor,
        key=key,
        reason=reason,
        provider=provider,
    )


@dataclass(frozen=True)
class Movement:
    """One charge or refund of an order, for the bulk functions."""

    order_id: int
    resident_id: int
    currency: str
    amount_minor: int
    key: str
    reason: str


_CHUNK = 1000


def refund_many(
    *, db_session: Session, refunds: Sequence[Movement], provider: PaymentProvider | None = None
) -> int:
    """Refund many orders, each once per key, in a few queries (the cut-off refunds thousands)."""
    provider = provider or get_provider()
    keys = [m.key for m in refunds]
    existing: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        existing.update(
            db_session.scalars(
                select(LedgerEntry.idempotency_key).where(
                    bulk.among(
                        db_session, LedgerEntry.idempotency_key, keys[start : start + _CHUNK]
                    )
                )
            )
        )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for move in refunds:
        if move.key in existing:
            continue
        if move.amount_minor <= 0:
            raise AmountNotPositive("amount must be positive", field="amount_minor")
        existing.add(move.key)
        reference = provider.refund(
            resident_id=move.resident_id,
            amount_minor=move.amount_minor,
            currency=move.currency,
            key=move.key,
        )
        rows.append(
            {
                "idempotency_key": move.key,
                "order_id": move.order_id,
                "resident_id": move.resident_id,
                "kind": EntryKind.REFUND,
                "amount_minor": move.amount_minor,
                "currency": move.currency,
                "provider": provider.name,
                "provider_reference": reference,
                "reason": move.reason,
                "created_at": now,
            }
        )
    return bulk.insert_rows(db_session, LedgerEntry, rows)


def get_all_for_order(*, db_session: Session, order_id: int) -> list[LedgerEntry]:
    """The order's ledger entries in order."""
    query = select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.id)
    return list(db_session.scalars(query))


def balance(*, db_session: Session, order_id: int) -> int:
    """Net money held for the order: charges minus refunds, in minor units."""
    rows = db_session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.order_id == order_id)
        .group_by(LedgerEntry.kind)
    ).all()
    totals = {kind: int(total or 0) for kind, total in rows}
    return totals.get(EntryKind.CHARGE, 0) - totals.get(EntryKind.REFUND, 0)
