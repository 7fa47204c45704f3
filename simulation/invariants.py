"""The day's invariants, checked from the database (and the phone network) once it is over.

Each check returns the rows that break it; an empty list is a pass. The report counts what
was checked so a pass over nothing is visible as such.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.events.models import OutboxEvent
from app.orders.models import Order, OrderStatus
from app.payments.models import EntryKind, LedgerEntry
from lockers.models import LockerEvent, ParcelColdChainFlag
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop
from notifications.models import Message

FINAL_ORDER = {
    OrderStatus.COLLECTED,
    OrderStatus.CANCELLED,
    OrderStatus.GROUP_FAILED,
    OrderStatus.EXPIRED,
}
COLD = ("chilled", "frozen")
# Parcels the resident will not get from this window, and must be told about.
WONT_COME = (ParcelStatus.UNDELIVERED,)
TOLD_EVENTS = ("parcel.undelivered", "parcel.not_routed", "route.unassigned")
TOLD_TEMPLATES = ("parcel_undelivered", "parcel_not_routed", "undelivered_refund")
# The ledger key prefix of an undelivered parcel's refund (logistics.settlement.refund_key).
UNDELIVERED_REFUND_KEY = "refund:undelivered:"


@dataclass
class Check:
    name: str
    checked: int
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class InvariantReport:
    checks: list[Check]
    counts: dict[str, dict[str, int]]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def check_day(
    *,
    db_session: Session,
    window_ids: list[int],
    cold_chain_minutes: int,
    sms_sent_per_key: Counter[str] | None = None,
    orders_placed: int | None = None,
    compartment_clashes: list[str] | None = None,
    user_errors: list[str] | None = None,
) -> InvariantReport:
    """Every invariant of the played windows."""
    checks: list[Check] = []
    for run in _CHECKS:
        checks.append(run(db_session, window_ids, cold_chain_minutes))
    checks.append(_sms_once(sms_sent_per_key))
    clashes = compartment_clashes or []
    checks.append(
        Check("no compartment held two parcels at once", _deposits(db_session), clashes[:20])
    )
    errors = user_errors or []
    checks.append(Check("residents and drivers met no unexpected answer", len(errors), errors[:20]))
    counts = status_counts(db_session, window_ids)
    if orders_placed is not None:
        total = sum(counts["orders"].values())
        check = Check("counts per state add up", total + sum(counts["parcels"].values()))
        if total != orders_placed:
            check.failures.append(f"{orders_placed} orders placed, {total} stored")
        check.failures += _parcel_count_gaps(db_session, window_ids)
        checks.append(check)
    return InvariantReport(checks, counts)


def _orders_end(db: Session, windows: list[int], _limit: int) -> Check:
    rows = db.execute(select(Order.id, Order.status).where(Order.window_id.in_(windows))).all()
    settled = _undelivered_refunds(db, windows)
    check = Check(
        "every confirmed order ends collected, expired-and-handled or refunded", len(rows)
    )
    for order_id, status in rows:
        if status == OrderStatus.UNDELIVERED:
            missing = settled.get(order_id, (set(), set()))
            if missing[0] and missing[0] <= missing[1]:
                continue
            check.failures.append(f"order {order_id} ended undelivered without its refunds")
            continue
        if status in FINAL_ORDER:
            continue
        check.failures.append(f"order {order_id} ended {status.value}")
    expired_in_locker = db.scalars(
        select(Parcel.id).where(
            Parcel.window_id.in_(windows), Parcel.status == ParcelStatus.EXPIRED
        )
    ).all()
    check.failures += [f"expired parcel {pid} never retrieved" for pid in expired_in_locker]
    return check


def _undelivered_refunds(db: Session, windows: list[int]) -> dict[int, tuple[set[str], set[str]]]:
    """order id -> (refund keys its settled undelivered parcels call for, keys in the ledger)."""
    out: dict[int, tuple[set[str], set[str]]] = {}
    parcels = db.execute(
        select(Parcel.order_id, Parcel.id).where(
            Parcel.window_id.in_(windows),
            Parcel.status == ParcelStatus.CANCELLED,
            Parcel.failure_reason.is_not(None),
        )
    ).all()
    for order_id, parcel_id in parcels:
        out.setdefault(order_id, (set(), set()))[0].add(f"{UNDELIVERED_REFUND_KEY}{parcel_id}")
    keys = db.execute(
        select(LedgerEntry.order_id, LedgerEntry.idempotency_key)
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(
            Order.window_id.in_(windows),
            LedgerEntry.kind == EntryKind.REFUND,
            LedgerEntry.idempotency_key.like(f"{UNDELIVERED_REFUND_KEY}%"),
        )
    ).all()
    for order_id, key in keys:
        out.setdefault(order_id, (set(), set()))[1].add(key)
    return out


def _net_by_order(db: Session, windows: list[int]) -> dict[int, tuple[int, int]]:
    """order id -> (charges, refunds) in minor units."""
    rows = db.execute(
        select(
            LedgerEntry.order_id,
            func.sum(
                case((LedgerEntry.kind == EntryKind.CHARGE, LedgerEntry.amount_minor), else_=0)
            ),
            func.sum(
                case((LedgerEntry.kind == EntryKind.REFUND, LedgerEntry.amount_minor), else_=0)
            ),
        )
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(Order.window_id.in_(windows))
        .group_by(LedgerEntry.order_id)
    ).all()
    return {oid: (int(c or 0), int(r or 0)) for oid, c, r in rows}


def _money(db: Session, windows: list[int], _limit: int) -> Check:
    ledger = _net_by_order(db, windows)
    orders = db.execute(
        select(Order.id, Order.status, Order.paid_minor, Order.charged_minor).where(
            Order.window_id.in_(windows)
        )
    ).all()
    check = Check("charges minus refunds equal the ledger, per order", len(orders))
    for order_id, status, paid, charged in orders:
        charges, refunds = ledger.get(order_id, (0, 0))
        net = charges - refunds
        if charges != paid:
            check.failures.append(f"order {order_id}: paid {paid}, charged in ledger {charges}")
        if net < 0 or net > paid:
            check.failures.append(f"order {order_id}: net {net} outside 0..{paid}")
        if status in (OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED) and net != 0:
            check.failures.append(f"order {order_id} {status.value} but keeps {net}")
        if status == OrderStatus.COLLECTED and charged is not None and net != charged:
            check.failures.append(f"order {order_id} collected: charged {charged}, net {net}")
    return check


def _cold_chain(db: Session, windows: list[int], limit_minutes: int) -> Check:
    rows = db.execute(
        select(Parcel.id, Route.started_at, RouteStop.arrived_at)
        .join(RouteStop, RouteStop.id == Parcel.route_stop_id)
        .join(Route, Route.id == RouteStop.route_id)
        .where(
            Parcel.window_id.in_(windows),
            Parcel.temperature_class.in_(COLD),
            RouteStop.arrived_at.is_not(None),
            Route.started_at.is_not(None),
        )
    ).all()
    flagged = set(db.scalars(select(ParcelColdChainFlag.parcel_id)).all())
    flagged |= set(
        db.scalars(
            select(Parcel.id).where(
                Parcel.window_id.in_(windows), Parcel.van_minutes_over_limit.is_not(None)
            )
        ).all()
    )
    check = Check("every chilled and frozen parcel within its time limit or flagged", len(rows))
    limit = timedelta(minutes=limit_minutes)
    for parcel_id, started, arrived in rows:
        if started is None or arrived is None:
            continue
        if arrived - started > limit and parcel_id not in flagged:
            minutes = (arrived - started).total_seconds() / 60
            check.failures.append(f"parcel {parcel_id}: {minutes:.0f} min in the van, not flagged")
    return check


def _routes(db: Session, windows: list[int], _limit: int) -> Check:
    routes = db.execute(
        select(Route.id, Route.status, Route.alarm).where(
            Route.window_id.in_(windows),
            Route.status.in_((RouteStatus.COMPLETED, RouteStatus.COMPLETED_WITH_ALARM)),
        )
    ).all()
    aboard = dict(
        db.execute(
            select(RouteStop.route_id, func.count(Parcel.id))
            .join(Parcel, Parcel.route_stop_id == RouteStop.id)
            .where(Parcel.status.in_((ParcelStatus.RESERVED, ParcelStatus.LOADED)))
            .group_by(RouteStop.route_id)
        ).all()
    )
    check = Check("no route completed with parcels aboard unflagged", len(routes))
    for route_id, status, alarm in routes:
        if aboard.get(route_id) and not (status == RouteStatus.COMPLETED_WITH_ALARM and alarm):
            check.failures.append(f"route {route_id} {status.value} with {aboard[route_id]} aboard")
    open_routes = db.scalars(
        select(Route.id).where(
            Route.window_id.in_(windows),
            Route.status.in_((RouteStatus.PLANNED, RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)),
        )
    ).all()
    check.failures += [f"route {rid} never finished" for rid in open_routes]
    return check


def _told(db: Session, windows: list[int], _limit: int) -> Check:
    """Parcels that did not come (undelivered, or settled after it with its reason kept)."""
    parcels = db.execute(
        select(Parcel.id, Parcel.resident_id).where(
            Parcel.window_id.in_(windows),
            (Parcel.status.in_(WONT_COME))
            | ((Parcel.status == ParcelStatus.CANCELLED) & Parcel.failure_reason.is_not(None)),
        )
    ).all()
    told_events = {
        int(e.payload.get("parcel_id", 0))
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind.in_(TOLD_EVENTS)))
    }
    messaged = set(
        db.scalars(select(Message.resident_id).where(Message.template.in_(TOLD_TEMPLATES))).all()
    )
    check = Check("every resident whose parcel will not come was told", len(parcels))
    for parcel_id, resident_id in parcels:
        if parcel_id not in told_events or resident_id not in messaged:
            check.failures.append(f"parcel {parcel_id}: resident {resident_id} not told")
    return check


def _sms_once(per_key: Counter[str] | None) -> Check:
    keys = per_key or Counter()
    check = Check("no SMS sent twice", sum(keys.values()))
    check.failures = [f"message {key} sent {n} times" for key, n in keys.items() if n > 1]
    return check


def _deposits(db: Session) -> int:
    return int(
        db.scalar(select(func.count(LockerEvent.id)).where(LockerEvent.type == "door_closed")) or 0
    )


def _parcel_count_gaps(db: Session, windows: list[int]) -> list[str]:
    """Every order that got past the cut-off confirmed has parcels, and no other order does."""
    delivered_states = (
        OrderStatus.PACKED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.COLLECTED,
        OrderStatus.EXPIRED,
    )
    without = db.scalars(
        select(Order.id)
        .outerjoin(Parcel, Parcel.order_id == Order.id)
        .where(
            Order.window_id.in_(windows), Order.status.in_(delivered_states), Parcel.id.is_(None)
        )
    ).all()
    stray = db.scalars(
        select(Parcel.id)
        .join(Order, Order.id == Parcel.order_id)
        .where(
            Order.window_id.in_(windows),
            Order.status.in_((OrderStatus.CANCELLED, OrderStatus.GROUP_FAILED)),
            Parcel.status.not_in((ParcelStatus.CANCELLED,)),
        )
    ).all()
    return [f"order {oid} {'has no parcel'}" for oid in without] + [
        f"parcel {pid} of a cancelled order" for pid in stray
    ]


def status_counts(db: Session, windows: list[int]) -> dict[str, dict[str, int]]:
    """Orders, parcels, routes and (ordered) group buys of the windows, by status."""
    from app.groupbuys.models import GroupBuy

    tables: dict[str, tuple[Any, Any, Any]] = {
        "orders": (Order.status, Order.window_id, None),
        "parcels": (Parcel.status, Parcel.window_id, None),
        "routes": (Route.status, Route.window_id, None),
        "groups": (GroupBuy.status, GroupBuy.window_id, GroupBuy.ordered_quantity > 0),
    }
    counts: dict[str, dict[str, int]] = {}
    for name, (status, window, extra) in tables.items():
        query = select(status, func.count()).where(window.in_(windows)).group_by(status)
        if extra is not None:
            query = query.where(extra)
        counts[name] = {str(getattr(k, "value", k)): int(n) for k, n in db.execute(query)}
    return counts


_CHECKS: list[Callable[[Session, list[int], int], Check]] = [
    _orders_end,
    _money,
    _cold_chain,
    _routes,
    _told,
]
