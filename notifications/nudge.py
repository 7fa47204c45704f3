"""Group nudges: before the cut-off, tell residents whose group buy is a few units from its
minimum or next tier ("3 more to unlock ¥8.90"). At most one per resident and window (a unique
row and a unique message key), never in quiet hours, never to a resident who opted out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.cities import queries as cities_queries
from app.core.db import utcnow
from app.groupbuys import pricing
from app.groupbuys import queries as groupbuys_queries
from app.orders import queries as orders_queries
from app.residents import queries as residents_queries
from app.windows import queries as windows_queries
from app.windows.queries import WindowCutoff
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


class Standing(Protocol):
    """What a nudge reads of a group buy (`app.groupbuys.queries.GroupBuyStanding`)."""

    @property
    def id(self) -> int: ...

    @property
    def product_id(self) -> int: ...

    @property
    def ordered_quantity(self) -> int: ...

    @property
    def min_quantity(self) -> int: ...

    @property
    def stock_cap(self) -> int | None: ...

    @property
    def tiers(self) -> Sequence[pricing.TierLike]: ...


def opportunity(group_buy: Standing, *, max_gap: int, currency: str) -> Opportunity | None:
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
    windows = windows_queries.open_windows_with_cutoff_between(
        db_session, now + TOO_LATE, now + timedelta(hours=24)
    )
    to_send: list[int] = []
    for window in windows:
        to_send.extend(_scan_window(db_session, window, now))
    return to_send


def _scan_window(db_session: Session, window: WindowCutoff, now: datetime) -> list[int]:
    policy = service.get_policy(db_session=db_session, city_id=window.city_id)
    if not policy.nudges_enabled or policy.quiet_hours.is_quiet(now):
        return []
    if now < window.cutoff_at - timedelta(hours=policy.nudge_hours_before_cutoff):
        return []
    currency = _currency(db_session, window.city_id)
    chances: dict[int, Opportunity] = {}
    for group_buy in groupbuys_queries.open_group_buys_of_window(db_session, window.id):
        found = opportunity(group_buy, max_gap=policy.nudge_max_gap, currency=currency)
        if found is not None:
            chances[group_buy.id] = found
    if not chances:
        return []
    best: dict[int, Opportunity] = {}
    for resident_id, group_buy_id in orders_queries.placed_buyers(db_session, window.id, chances):
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
    residents = residents_queries.contacts(db_session, set(best) - already)
    to_send: list[int] = []
    for resident_id, chance in best.items():
        if resident_id in already:
            continue
        resident = residents.get(resident_id)
        if resident is None:
            continue
        message_id = _nudge(db_session, window, resident, chance, currency, now)
        if message_id is not None:
            to_send.append(message_id)
    return to_send


def _nudge(
    db_session: Session,
    window: WindowCutoff,
    resident: service.Recipient,
    chance: Opportunity,
    currency: str,
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
            "currency": currency,
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


def _currency(db_session: Session, city_id: int) -> str:
    locale = cities_queries.city_locales(db_session, [city_id]).get(city_id)
    return locale.currency if locale is not None else "CNY"
