"""The residents' catalog: their neighborhood's windows and group buys, and share links.

Reads only; two queries per catalog (group buys with their product joined, then the tiers).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager, selectinload

from app.catalog.models import Product
from app.cities.models import City
from app.core.db import utcnow
from app.core.settings import get_settings
from app.groupbuys import pricing
from app.groupbuys import service as groupbuy_service
from app.groupbuys.errors import GroupBuyNotFound
from app.groupbuys.models import GroupBuy
from app.groupbuys.schemas import (
    CatalogGroupBuy,
    CatalogRead,
    CatalogWindow,
    ProductBrief,
    ProgressRead,
    SharedGroupBuyRead,
    ShareLinkRead,
)
from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from app.windows.models import DeliveryWindow, WindowStatus
from app.windows.service import WindowNotFound


def catalog(
    *,
    db_session: Session,
    resident: Resident,
    window_id: int | None = None,
    now: datetime | None = None,
) -> CatalogRead:
    """The resident's neighborhood: open windows (or one window) and every group buy in them."""
    now = now or utcnow()
    hood, city, window = _hood_city_and_window(db_session, resident, window_id)
    if window_id is None:
        windows = list(
            db_session.scalars(
                select(DeliveryWindow)
                .where(
                    DeliveryWindow.city_id == city.id,
                    DeliveryWindow.status == WindowStatus.OPEN,
                    DeliveryWindow.cutoff_at > now,
                )
                .order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id)
            )
        )
    else:
        if window is None:
            raise WindowNotFound("no such delivery window in your city", field="query.window_id")
        windows = [window]
    gbs = group_buys_with_products(
        db_session, neighborhood_id=hood.id, window_ids=[w.id for w in windows]
    )
    by_window: dict[int, list[GroupBuy]] = defaultdict(list)
    for gb in gbs:
        by_window[gb.window_id].append(gb)
    zone = ZoneInfo(city.timezone)
    return CatalogRead(
        neighborhood_id=hood.id,
        neighborhood_name=hood.name,
        timezone=city.timezone,
        currency=city.currency,
        windows=[
            catalog_window(w, by_window[w.id], zone=zone, currency=city.currency, now=now)
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


def shared(
    *, db_session: Session, resident: Resident, token: str, now: datetime | None = None
) -> SharedGroupBuyRead:
    """A shared group buy for a resident of its neighborhood; NotFound for anyone else."""
    now = now or utcnow()
    gb = db_session.scalar(select(GroupBuy).where(GroupBuy.share_token == token))
    if gb is None or gb.neighborhood_id != resident.neighborhood_id:
        raise GroupBuyNotFound("no such group buy in your neighborhood", field="token")
    _, city = _hood_and_city(db_session, resident)
    window = db_session.get(DeliveryWindow, gb.window_id)
    assert window is not None
    gbs = group_buys_with_products(db_session, group_buy_ids=[gb.id])
    zone = ZoneInfo(city.timezone)
    return SharedGroupBuyRead(
        window=catalog_window(window, gbs, zone=zone, currency=city.currency, now=now)
    )


def _hood_and_city(db_session: Session, resident: Resident) -> tuple[Neighborhood, City]:
    row = db_session.execute(
        select(Neighborhood, City)
        .join(City, City.id == Neighborhood.city_id)
        .where(Neighborhood.id == resident.neighborhood_id)
    ).one()
    return row[0], row[1]


def _hood_city_and_window(
    db_session: Session, resident: Resident, window_id: int | None
) -> tuple[Neighborhood, City, DeliveryWindow | None]:
    """The resident's neighborhood and city, and the window if asked and in that city: one query."""
    if window_id is None:
        hood, city = _hood_and_city(db_session, resident)
        return hood, city, None
    row = db_session.execute(
        select(Neighborhood, City, DeliveryWindow)
        .join(City, City.id == Neighborhood.city_id)
        .outerjoin(
            DeliveryWindow,
            (DeliveryWindow.id == window_id) & (DeliveryWindow.city_id == City.id),
        )
        .where(Neighborhood.id == resident.neighborhood_id)
    ).one()
    return row[0], row[1], row[2]


def group_buys_with_products(
    db_session: Session,
    *,
    neighborhood_id: int | None = None,
    window_ids: Sequence[int] | None = None,
    group_buy_ids: Sequence[int] | None = None,
) -> list[GroupBuy]:
    """Group buys with their product (joined) and tiers (one more query): two queries in all."""
    query = (
        select(GroupBuy)
        .join(GroupBuy.product)
        .options(contains_eager(GroupBuy.product), selectinload(GroupBuy.tiers))
        .order_by(Product.name, GroupBuy.id)
    )
    if neighborhood_id is not None:
        query = query.where(GroupBuy.neighborhood_id == neighborhood_id)
    if window_ids is not None:
        if not window_ids:
            return []
        query = query.where(GroupBuy.window_id.in_(window_ids))
    if group_buy_ids is not None:
        query = query.where(GroupBuy.id.in_(group_buy_ids))
    return list(db_session.scalars(query))


def _catalog_group_buy(gb: GroupBuy, *, currency: str) -> CatalogGroupBuy:
    product = gb.product
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
    window: DeliveryWindow,
    gbs: Sequence[GroupBuy],
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
