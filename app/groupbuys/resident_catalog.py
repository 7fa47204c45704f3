"""The residents' catalog: their neighborhood's windows and group buys, and share links.

Reads only; two queries per catalog (group buys with their product joined, then the tiers).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.catalog import queries as catalog_queries
from app.catalog.queries import ProductCard
from app.cities import queries as city_queries
from app.core.db import utcnow
from app.core.settings import get_settings
from app.groupbuys import pricing
from app.groupbuys import service as groupbuy_service
from app.groupbuys.models import GroupBuy
from app.groupbuys.schemas import (
    CatalogGroupBuy,
    CatalogRead,
    CatalogWindow,
    ProductBrief,
    ProgressRead,
    ShareLinkRead,
)
from app.groupbuys.service import InNeighborhood
from app.neighborhoods import queries as neighborhood_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowInfo, WindowStatus
from app.windows.service import WindowNotFound


@dataclass(frozen=True)
class Place:
    """A resident's neighborhood and how its city shows times and money."""

    neighborhood_id: int
    neighborhood_name: str
    city_id: int
    timezone: str
    currency: str


@dataclass(frozen=True)
class GroupBuyWithProduct:
    """A group buy (its tiers loaded) and its product's card."""

    group_buy: GroupBuy
    product: ProductCard


def catalog(
    *,
    db_session: Session,
    resident: InNeighborhood,
    window_id: int | None = None,
    now: datetime | None = None,
) -> CatalogRead:
    """The resident's neighborhood: open windows (or one window) and every group buy in them."""
    now = now or utcnow()
    place = place_of(db_session, resident.neighborhood_id)
    if window_id is None:
        windows = window_queries.open_windows(db_session, place.city_id, now)
    else:
        window = window_queries.window_info(db_session, window_id)
        if window is None or window.city_id != place.city_id:
            raise WindowNotFound("no such delivery window in your city", field="query.window_id")
        windows = [window]
    gbs = group_buys_with_products(
        db_session, neighborhood_id=place.neighborhood_id, window_ids=[w.id for w in windows]
    )
    by_window: dict[int, list[GroupBuyWithProduct]] = defaultdict(list)
    for gb in gbs:
        by_window[gb.group_buy.window_id].append(gb)
    zone = ZoneInfo(place.timezone)
    return CatalogRead(
        neighborhood_id=place.neighborhood_id,
        neighborhood_name=place.neighborhood_name,
        timezone=place.timezone,
        currency=place.currency,
        windows=[
            catalog_window(w, by_window[w.id], zone=zone, currency=place.currency, now=now)
            for w in windows
        ],
    )


def share_link(*, group_buy: GroupBuy, request_base_url: str | None = None) -> ShareLinkRead:
    """The group buy's share link, on the configured public address, else on the address the
    request came to (see `Settings.public_url`)."""
    base = get_settings().public_url(request_base_url)
    return ShareLinkRead(
        group_buy_id=group_buy.id,
        token=group_buy.share_token,
        url=f"{base}/share/{group_buy.share_token}",
    )


def place_of(db_session: Session, neighborhood_id: int) -> Place:
    """The neighborhood's name and its city's zone and currency: one query."""
    hood = neighborhood_queries.neighborhood_place_query(neighborhood_id).subquery()
    row = db_session.execute(
        select(
            hood.c.id,
            hood.c.name,
            hood.c.city_id,
            city_queries.city_timezone_query(hood.c.city_id),
            city_queries.city_currency_query(hood.c.city_id),
        )
    ).one()
    return Place(*row)


def group_buys_with_products(
    db_session: Session,
    *,
    neighborhood_id: int | None = None,
    window_ids: Sequence[int] | None = None,
    group_buy_ids: Sequence[int] | None = None,
) -> list[GroupBuyWithProduct]:
    """Group buys with their product (joined) and tiers (one more query): two queries in all."""
    cards = catalog_queries.product_card_query().subquery()
    query = (
        select(GroupBuy, *cards.c)
        .join(cards, cards.c.id == GroupBuy.product_id)
        .options(selectinload(GroupBuy.tiers))
        .order_by(cards.c.name, GroupBuy.id)
    )
    if neighborhood_id is not None:
        query = query.where(GroupBuy.neighborhood_id == neighborhood_id)
    if window_ids is not None:
        if not window_ids:
            return []
        query = query.where(GroupBuy.window_id.in_(window_ids))
    if group_buy_ids is not None:
        query = query.where(GroupBuy.id.in_(group_buy_ids))
    return [GroupBuyWithProduct(row[0], ProductCard(*row[1:])) for row in db_session.execute(query)]


def _catalog_group_buy(item: GroupBuyWithProduct, *, currency: str) -> CatalogGroupBuy:
    gb, product = item.group_buy, item.product
    state = pricing.progress(
        gb.tiers, total=gb.ordered_quantity, min_quantity=gb.min_quantity, currency=currency
    )
    entry = pricing.entry_price(gb.tiers)
    current = (
        gb.final_unit_price_minor
        if gb.final_unit_price_minor is not None
        else state.current_unit_price_minor
    )
    return CatalogGroupBuy(
        id=gb.id,
        window_id=gb.window_id,
        status=gb.status,
        product=ProductBrief(
            id=product.id,
            name=product.name,
            name_zh=product.name_zh,
            unit=product.unit,
            temperature_class=product.temperature_class,
            list_price_minor=product.price_minor,
        ),
        currency=currency,
        tiers=groupbuy_service.tiers_read(gb.tiers, currency),
        entry_price_minor=entry,
        entry_price_display=pricing.format_money(entry, currency),
        current_unit_price_minor=current,
        current_unit_price_display=pricing.format_money(current, currency),
        ordered_quantity=gb.ordered_quantity,
        min_quantity=gb.min_quantity,
        stock_cap=gb.stock_cap,
        stock_left=None if gb.stock_cap is None else max(gb.stock_cap - gb.ordered_quantity, 0),
        progress=ProgressRead(
            text=state.text,
            minimum_reached=state.minimum_reached,
            target_quantity=state.target_quantity,
            target_unit_price_minor=state.target_unit_price_minor,
        ),
    )


def catalog_window(
    window: WindowInfo,
    gbs: Sequence[GroupBuyWithProduct],
    *,
    zone: ZoneInfo,
    currency: str,
    now: datetime,
) -> CatalogWindow:
    """A window as the catalog shows it (times also in the city's zone), with its group buys."""
    return CatalogWindow(
        id=window.id,
        local_date=window.local_date,
        slot_name=window.slot_name,
        status=window.status,
        is_open=window.status == WindowStatus.OPEN and window.cutoff_at > now,
        timezone=zone.key,
        cutoff_at=window.cutoff_at,
        cutoff_at_local=window.cutoff_at.astimezone(zone),
        ready_by=window.ready_by,
        ready_by_local=window.ready_by.astimezone(zone),
        pickup_deadline=window.pickup_deadline,
        pickup_deadline_local=window.pickup_deadline.astimezone(zone),
        group_buys=[_catalog_group_buy(gb, currency=currency) for gb in gbs],
    )
