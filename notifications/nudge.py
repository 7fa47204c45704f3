"""Group nudges: before the cut-off, tell residents whose group buy is a few units from its
minimum or next tier ("3 more to unlock ¥8.90"). At most one per resident and window (a unique
row and a unique message key), never in quiet hours, never to a resident who opted out.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cities.models import City
from app.core.db import utcnow
from app.groupbuys import pricing
from app.groupbuys.models import GroupBuy, GroupBuyStatus
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus
from app.residents.models import Resident
from app.windows.models import DeliveryWindow, WindowStatus
from notifications import service
from notifications.models import MessageStatus, Nudge

TOO_LATE = timedelta(minutes=15)  # a nudge this close to the cut-off cannot be acted on


@dataclass(frozen=True)
class Opportunity:
    """A group buy a few units away from forming, or from a cheaper tier."""

    group_buy_id: int
    product_id: int
    gap: int
    target: str  # "minimum" or "tier"
    price_minor: int


def opportunity(group_buy: GroupBuy, *, max_gap: int, currency: str) -> Opportunity | None:
    """What a group buy is close to, if it is within `max_gap` units of it (and of stock)."""
    if not group_buy.tiers:
        return None
    progress = pricing.progress(
        group_buy.tiers,
        total=group_buy.ordered_quantity,
        min_quantity=group_buy.min_quantity,
        currency=currency,
    )
    if progress.target_quantity is None or progress.target_unit_price_minor is None:
        return None
    gap = progress.target_quantity - group_buy.ordered_quantity
    if not 0 < gap <= max_gap:
        return None
    if group_buy.stock_cap is not None and progress.target_quantity > group_buy.stock_cap:
        return None
    return Opportunity(
        group_buy_id=group_buy.id,
        product_id=group_buy.product_id,
        gap=gap,
        target="tier" if progress.minimum_reached else "minimum",
        price_minor=progress.target_unit_price_minor,
    )


def scan(*, db_session: Session, now: datetime | None = None) -> list[int]:
    """Create the nudges that are due now; return message ids to enqueue after commit."""
    now = now or utcnow()
    windows = db_session.scalars(
        select(DeliveryWindow).where(
            DeliveryWindow.status == WindowStatus.OPEN,
            DeliveryWindow.cutoff_at > now + TOO_LATE,
            DeliveryWindow.cutoff_at <= now + timedelta(hours=24),
        )
    ).all()
    to_send: list[int] = []
    for window in windows:
        to_send.extend(_scan_window(db_session, window, now))
    return to_send


def _scan_window(db_session: Session, window: DeliveryWindow, now: datetime) -> list[int]:
    policy = service.get_policy(db_session=db_session, city_id=window.city_id)
    if not policy.nudges_enabled or policy.quiet_hours.is_quiet(now):
        return []
    if now < window.cutoff_at - timedelta(hours=policy.nudge_hours_before_cutoff):
        return []
    city = db_session.get(City, window.city_id)
    currency = city.currency if city is not None else "CNY"
    chances: dict[int, Opportunity] = {}
    for group_buy in db_session.scalars(
        select(GroupBuy).where(
            GroupBuy.window_id == window.id, GroupBuy.status == GroupBuyStatus.OPEN
        )
    ):
        found = opportunity(group_buy, max_gap=policy.nudge_max_gap, currency=currency)
        if found is not None:
            chances[group_buy.id] = found
    if not chances:
        return []
    best: dict[int, Opportunity] = {}
    rows = db_session.execute(
        select(Order.resident_id, OrderLine.group_buy_id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.window_id == window.id,
            Order.status == OrderStatus.PLACED,
            OrderLine.status == LineStatus.PLACED,
            OrderLine.group_buy_id.in_(chances),
        )
        .order_by(Order.resident_id, OrderLine.group_buy_id)
    )
    for resident_id, group_buy_id in rows:
        chance = chances[group_buy_id]
        if resident_id not in best or chance.gap < best[resident_id].gap:
            best[resident_id] = chance
    already = set(
        db_session.scalars(
            select(Nudge.resident_id).where(
                Nudge.window_id == window.id, Nudge.resident_id.in_(best)
            )
        )
    )
    to_send: list[int] = []
    for resident_id, chance in best.items():
        if resident_id in already:
            continue
        resident = db_session.get(Resident, resident_id)
        if resident is None:
            continue
        message_id = _nudge(db_session, window, resident, chance, now)
        if message_id is not None:
            to_send.append(message_id)
    return to_send


def _nudge(
    db_session: Session,
    window: DeliveryWindow,
    resident: Resident,
    chance: Opportunity,
    now: datetime,
) -> int | None:
    try:
        with db_session.begin_nested():
            record = Nudge(
                window_id=window.id,
                resident_id=resident.id,
                group_buy_id=chance.group_buy_id,
                gap=chance.gap,
                target=chance.target,
            )
            db_session.add(record)
            db_session.flush()
    except IntegrityError:
        return None  # another scan got there first
    city = db_session.get(City, window.city_id)
    message, new = service.create(
        db_session=db_session,
        key=f"nudge:{window.id}:{resident.id}",
        template="nudge_tier" if chance.target == "tier" else "nudge_minimum",
        resident=resident,
        params={
            "group_buy_id": chance.group_buy_id,
            "product_id": chance.product_id,
            "gap": chance.gap,
            "price_minor": chance.price_minor,
            "currency": city.currency if city is not None else "CNY",
            "cutoff_at": window.cutoff_at.isoformat(),
        },
        expires_at=window.cutoff_at - TOO_LATE,
        now=now,
    )
    record.message_id = message.id
    db_session.flush()
    if new and message.status is MessageStatus.QUEUED and message.not_before is None:
        message.enqueued_at = now
        return message.id
    return None
