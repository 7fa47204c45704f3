"""Group buys: reading them and operator management (create, update, delete).

Stock moves in `app.groupbuys.stock`; the residents' catalog and share links in
`app.groupbuys.resident_catalog`.
"""

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, CursorResult, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.catalog import queries as catalog_queries
from app.catalog.service import ProductInactive, UnknownProduct
from app.cities import queries as city_queries
from app.cities.service import CityNotFound
from app.core.db import utcnow
from app.core.errors import Conflict
from app.groupbuys import pricing
from app.groupbuys.errors import (
    DuplicateGroupBuy,
    GroupBuyHasOrders,
    GroupBuyNotFound,
    GroupBuyNotOpen,
    MinQuantityRequired,
    StockCapBelowMinimum,
    StockCapBelowOrdered,
)
from app.groupbuys.models import GroupBuy, GroupBuyStatus, PriceTier
from app.groupbuys.revisions import bump_group_buy_set
from app.groupbuys.schemas import (
    GroupBuyCreate,
    GroupBuyRead,
    GroupBuyUpdate,
    TierIn,
    TierRead,
)
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.service import UnknownNeighborhood
from app.orders import queries as order_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowCutoff, WindowStatus
from app.windows.service import UnknownWindow, WindowClosed

# --- reading -------------------------------------------------------------------------------


def get(*, db_session: Session, group_buy_id: int) -> GroupBuy | None:
    """A group buy by id, or None."""
    return db_session.get(GroupBuy, group_buy_id)


def get_in_city(*, db_session: Session, group_buy_id: int, city_id: int) -> GroupBuy:
    """A group buy of the city's neighborhoods, or NotFound."""
    gb = db_session.scalar(
        select(GroupBuy)
        .where(GroupBuy.id == group_buy_id, _in_city(city_id))
        .options(selectinload(GroupBuy.tiers))
    )
    if gb is None:
        raise GroupBuyNotFound("no such group buy", field="group_buy_id")
    return gb


class InNeighborhood(Protocol):
    """Anyone living in a neighborhood (a resident)."""

    @property
    def neighborhood_id(self) -> int: ...


def get_for_resident(
    *, db_session: Session, resident: InNeighborhood, group_buy_id: int
) -> GroupBuy:
    """A group buy of the resident's neighborhood; NotFound for any other (never says whose)."""
    gb = db_session.get(GroupBuy, group_buy_id)
    if gb is None or gb.neighborhood_id != resident.neighborhood_id:
        raise GroupBuyNotFound("no such group buy in your neighborhood", field="group_buy_id")
    return gb


def get_all(
    *,
    db_session: Session,
    city_id: int,
    window_id: int | None = None,
    neighborhood_id: int | None = None,
    status: GroupBuyStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[GroupBuy], int]:
    """Group buys of a city, optionally of one window, neighborhood or status; and their count."""
    query = select(GroupBuy).where(_in_city(city_id))
    if window_id is not None:
        query = query.where(GroupBuy.window_id == window_id)
    if neighborhood_id is not None:
        query = query.where(GroupBuy.neighborhood_id == neighborhood_id)
    if status is not None:
        query = query.where(GroupBuy.status == status)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = db_session.scalars(
        query.options(selectinload(GroupBuy.tiers))
        .order_by(GroupBuy.window_id, GroupBuy.neighborhood_id, GroupBuy.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(items), total


def _in_city(city_id: int) -> ColumnElement[bool]:
    return GroupBuy.neighborhood_id.in_(neighborhood_queries.neighborhood_ids_in_city(city_id))


def city_of(*, db_session: Session, city_id: int) -> city_queries.CityLocale:
    """The city's time zone and currency, or NotFound."""
    city = city_queries.city_locales(db_session, [city_id]).get(city_id)
    if city is None:
        raise CityNotFound("no such city", field="city_id")
    return city


def to_reads(
    *, db_session: Session, group_buys: Sequence[GroupBuy], currency: str
) -> list[GroupBuyRead]:
    """The operator's view of each group buy (their products' names read in one query)."""
    names = catalog_queries.product_names(db_session, {gb.product_id for gb in group_buys})
    return [to_read(gb, currency=currency, product_name=names[gb.product_id]) for gb in group_buys]


def to_read(gb: GroupBuy, *, currency: str, product_name: str) -> GroupBuyRead:
    """The operator's view of a group buy."""
    return GroupBuyRead(
        id=gb.id,
        neighborhood_id=gb.neighborhood_id,
        window_id=gb.window_id,
        product_id=gb.product_id,
        product_name=product_name,
        min_quantity=gb.min_quantity,
        stock_cap=gb.stock_cap,
        ordered_quantity=gb.ordered_quantity,
        status=gb.status,
        final_unit_price_minor=gb.final_unit_price_minor,
        finalized_at=gb.finalized_at,
        share_token=gb.share_token,
        currency=currency,
        tiers=tiers_read(gb.tiers, currency),
    )


# --- operator management -------------------------------------------------------------------


def create(
    *, db_session: Session, city_id: int, group_buy_in: GroupBuyCreate, now: datetime | None = None
) -> GroupBuy:
    """Create a group buy for an open window; one per neighborhood x window x product."""
    now = now or utcnow()
    pricing.validate_tiers(group_buy_in.tiers)
    hood = neighborhood_queries.neighborhood_standing(db_session, group_buy_in.neighborhood_id)
    if hood is None or hood.city_id != city_id:
        raise UnknownNeighborhood("unknown neighborhood", field="neighborhood_id")
    window = window_queries.window_cutoff(db_session, group_buy_in.window_id)
    if window is None or window.city_id != city_id:
        raise UnknownWindow("unknown delivery window", field="window_id")
    _require_window_open(window, now)
    product_id = group_buy_in.product_id
    product = catalog_queries.product_cards(db_session, [product_id]).get(product_id)
    if product is None or product.city_id != city_id:
        raise UnknownProduct("unknown product", field="product_id")
    if not product.active:
        raise ProductInactive("product is not sold any more", field="product_id")
    _check_cap_vs_minimum(group_buy_in.stock_cap, group_buy_in.min_quantity)
    duplicate = db_session.scalar(
        select(GroupBuy.id).where(
            GroupBuy.neighborhood_id == hood.id,
            GroupBuy.window_id == window.id,
            GroupBuy.product_id == product.id,
        )
    )
    if duplicate is not None:
        raise _duplicate(duplicate)
    gb = GroupBuy(
        neighborhood_id=hood.id,
        window_id=window.id,
        product_id=product.id,
        min_quantity=group_buy_in.min_quantity,
        stock_cap=group_buy_in.stock_cap,
        ordered_quantity=0,
        status=GroupBuyStatus.OPEN,
        share_token=secrets.token_hex(16),
        tiers=[_tier(t) for t in group_buy_in.tiers],
    )
    try:
        with db_session.begin_nested():
            db_session.add(gb)
            db_session.flush()
    except IntegrityError as exc:
        # Another operator created the same group buy at the same moment.
        raise _duplicate(None) from exc
    bump_group_buy_set(db_session, neighborhood_id=hood.id, window_id=window.id)
    return gb


def update(
    *,
    db_session: Session,
    group_buy: GroupBuy,
    group_buy_in: GroupBuyUpdate,
    now: datetime | None = None,
) -> GroupBuy:
    """Change tiers, minimum or cap of an open group buy (cap never below what is ordered)."""
    now = now or utcnow()
    if group_buy.status != GroupBuyStatus.OPEN:
        raise GroupBuyNotOpen(f"group buy is already {group_buy.status.value}", field="status")
    window = window_queries.window_cutoff(db_session, group_buy.window_id)
    assert window is not None
    _require_window_open(window, now)
    given = group_buy_in.model_fields_set
    if "min_quantity" in given and group_buy_in.min_quantity is None:
        raise MinQuantityRequired("must be a positive number", field="min_quantity")
    if "tiers" in given and group_buy_in.tiers is None:
        raise pricing.TiersRequired("give at least one price tier", field="tiers")
    if group_buy_in.tiers is not None:
        pricing.validate_tiers(group_buy_in.tiers)
    min_quantity = group_buy_in.min_quantity
    new_min = min_quantity or group_buy.min_quantity
    new_cap = group_buy_in.stock_cap if "stock_cap" in given else group_buy.stock_cap
    _check_cap_vs_minimum(new_cap, new_min)
    if "stock_cap" in given and new_cap is not None:
        # Conditional, so an order landing at the same moment cannot end up above the cap.
        result = cast(
            CursorResult[Any],
            db_session.execute(
                sql_update(GroupBuy)
                .where(
                    GroupBuy.id == group_buy.id,
                    GroupBuy.status == GroupBuyStatus.OPEN,
                    GroupBuy.ordered_quantity <= new_cap,
                )
                .values(stock_cap=new_cap)
                .execution_options(synchronize_session=False)
            ),
        )
        db_session.refresh(group_buy)
        if result.rowcount != 1:
            if group_buy.status != GroupBuyStatus.OPEN:
                raise GroupBuyNotOpen(
                    f"group buy is already {group_buy.status.value}", field="status"
                )
            raise StockCapBelowOrdered(
                f"{group_buy.ordered_quantity} units are already ordered; the cap cannot be lower",
                field="stock_cap",
                ordered_quantity=group_buy.ordered_quantity,
            )
    elif "stock_cap" in given:
        group_buy.stock_cap = None
    if min_quantity is not None:
        group_buy.min_quantity = min_quantity
    if group_buy_in.tiers is not None:
        # Delete the old tiers before inserting new ones: (group_buy_id, min_quantity) is unique.
        group_buy.tiers.clear()
        db_session.flush()
        group_buy.tiers.extend(_tier(t) for t in group_buy_in.tiers)
        group_buy.revision = GroupBuy.revision + 1  # the row itself may not change
    db_session.flush()
    return group_buy


def delete(*, db_session: Session, group_buy: GroupBuy) -> None:
    """Delete a group buy nobody has ordered from (locked, so no order lands meanwhile)."""
    locked = db_session.scalar(
        select(GroupBuy).where(GroupBuy.id == group_buy.id).with_for_update()
    )
    if locked is None:
        raise GroupBuyNotFound("no such group buy", field="group_buy_id")
    lines = order_queries.count_lines_of_group_buy(db_session, group_buy.id)
    if lines:
        raise GroupBuyHasOrders(
            "residents have ordered from this group buy; it cannot be deleted",
            field="group_buy_id",
            order_lines=lines,
        )
    db_session.delete(locked)
    db_session.flush()
    bump_group_buy_set(
        db_session, neighborhood_id=locked.neighborhood_id, window_id=locked.window_id
    )


def _tier(t: TierIn) -> PriceTier:
    return PriceTier(min_quantity=t.min_quantity, unit_price_minor=t.unit_price_minor)


def _duplicate(existing_id: int | None) -> Conflict:
    extra = {"group_buy_id": existing_id} if existing_id is not None else {}
    return DuplicateGroupBuy(
        "this neighborhood already has a group buy for this product in this window",
        field="product_id",
        **extra,
    )


def _check_cap_vs_minimum(stock_cap: int | None, min_quantity: int) -> None:
    if stock_cap is not None and stock_cap < min_quantity:
        raise StockCapBelowMinimum(
            f"a cap below the minimum of {min_quantity} means the group can never form",
            field="stock_cap",
        )


def _require_window_open(window: WindowCutoff, now: datetime) -> None:
    if window.status != WindowStatus.OPEN or window.cutoff_at <= now:
        raise WindowClosed(
            "the window is past its cut-off",
            field="window_id",
            cutoff_at=window.cutoff_at.isoformat(),
        )


def tiers_read(tiers: Sequence[PriceTier], currency: str) -> list[TierRead]:
    """The price tiers as read by clients, with display prices in the city's currency."""
    return [
        TierRead(
            min_quantity=t.min_quantity,
            unit_price_minor=t.unit_price_minor,
            unit_price_display=pricing.format_money(t.unit_price_minor, currency),
        )
        for t in tiers
    ]
