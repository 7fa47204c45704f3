"""The residents' catalog as the API sends it, from a cache of rendered windows in each process.

Every request reads, in one statement, what the catalog shows of the neighborhood, its city
and the window(s) (the values themselves), and the revisions of what it shows of the group
buys and their products: how many there are, the sum of their revisions (each moves on every
change of its row) and the revision of the set (moves when one is created or deleted). A
window whose state equals the cached one is sent as cached; the others are rendered (two
queries) and kept. The database answers every request, so every worker of `pickup serve`
stays right whoever wrote; a revision only grows, so a stale state never comes back.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from threading import Lock
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, select
from sqlalchemy.orm import Session

from app.catalog import queries as catalog_queries
from app.cities import queries as city_queries
from app.core.db import utcnow
from app.groupbuys.errors import GroupBuyNotFound
from app.groupbuys.models import GroupBuy, GroupBuySetRevision
from app.groupbuys.resident_catalog import (
    GroupBuyWithProduct,
    Place,
    catalog_window,
    group_buys_with_products,
)
from app.groupbuys.schemas import CatalogRead, SharedGroupBuyRead
from app.groupbuys.service import InNeighborhood
from app.neighborhoods import queries as neighborhood_queries
from app.windows import queries as window_queries
from app.windows.queries import WindowInfo, WindowStatus
from app.windows.service import WindowNotFound

# About 16 kB a window of 20 group buys: some 32 MB a process at most.
MAX_CACHED_WINDOWS = 2048


@dataclass(frozen=True)
class WindowState:
    """Everything a rendered window of the catalog depends on, as read now."""

    place: Place
    window: WindowInfo
    is_open: bool
    group_buys: int
    group_buy_revisions: int
    product_revisions: int
    set_revision: int


class CatalogCache:
    """Rendered catalog windows by (neighborhood, window), each with the state it shows;
    the least recently used go first. Safe to share between threads."""

    def __init__(self, max_windows: int = MAX_CACHED_WINDOWS) -> None:
        self._max_windows = max_windows
        self._windows: OrderedDict[tuple[int, int, int], tuple[WindowState, bytes]]
        self._windows = OrderedDict()
        self._lock = Lock()

    def get(self, state: WindowState, *, group_buy_id: int = 0) -> bytes | None:
        """The window's JSON (given `group_buy_id`, the share preview of that group buy of it)
        if it was rendered from this very state."""
        key = (state.place.neighborhood_id, state.window.id, group_buy_id)
        with self._lock:
            found = self._windows.get(key)
            if found is None or found[0] != state:
                return None
            self._windows.move_to_end(key)
            return found[1]

    def put(self, state: WindowState, body: bytes, *, group_buy_id: int = 0) -> None:
        """Keep the window's JSON (or a group buy's share preview), rendered from `state`."""
        key = (state.place.neighborhood_id, state.window.id, group_buy_id)
        with self._lock:
            self._windows[key] = (state, body)
            self._windows.move_to_end(key)
            while len(self._windows) > self._max_windows:
                self._windows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._windows)


def cache_of(holder: Any) -> CatalogCache:
    """The cache kept on `holder` (the application's state: one per worker process)."""
    cache = getattr(holder, "resident_catalog_cache", None)
    if cache is None:
        cache = CatalogCache()
        holder.resident_catalog_cache = cache
    return cache


def catalog_json(
    *,
    db_session: Session,
    cache: CatalogCache,
    neighborhood_id: int,
    window_id: int | None = None,
    now: datetime | None = None,
) -> bytes:
    """`resident_catalog.catalog` as JSON, byte for byte: windows whose state is unchanged come
    from the cache. Only for a read-only request (what it renders must be committed)."""
    now = now or utcnow()
    place, states = catalog_state(
        db_session, neighborhood_id=neighborhood_id, window_id=window_id, now=now
    )
    bodies = {state.window.id: cache.get(state) for state in states}
    stale = [state for state in states if bodies[state.window.id] is None]
    if stale:
        gbs = group_buys_with_products(
            db_session, neighborhood_id=neighborhood_id, window_ids=[s.window.id for s in stale]
        )
        by_window: dict[int, list[GroupBuyWithProduct]] = {s.window.id: [] for s in stale}
        for gb in gbs:
            by_window[gb.group_buy.window_id].append(gb)
        zone = ZoneInfo(place.timezone)
        for state in stale:
            gbs_here = by_window[state.window.id]
            rendered = catalog_window(
                state.window, gbs_here, zone=zone, currency=place.currency, now=now
            )
            bodies[state.window.id] = body = rendered.model_dump_json().encode()
            cache.put(state, body)
    head = CatalogRead(
        neighborhood_id=place.neighborhood_id,
        neighborhood_name=place.neighborhood_name,
        timezone=place.timezone,
        currency=place.currency,
        windows=[],
    ).model_dump_json()
    assert head.endswith('"windows":[]}')
    windows = b",".join(bodies[state.window.id] or b"" for state in states)
    return head[:-2].encode() + windows + b"]}"


def shared_json(
    *,
    db_session: Session,
    cache: CatalogCache,
    resident: InNeighborhood,
    token: str,
    now: datetime | None = None,
) -> bytes:
    """The group buy shared by `token` (`SharedGroupBuyRead`) as JSON, for a resident of its
    neighborhood (GroupBuyNotFound for anyone else): from the cache while the state of its
    window is unchanged, as the catalog's. Only for a read-only request."""
    now = now or utcnow()
    shared = db_session.connection().execute(_share_query(), {"token": token}).first()
    if shared is None or shared.neighborhood_id != resident.neighborhood_id:
        raise GroupBuyNotFound("no such group buy in your neighborhood", field="token")
    place, (state,) = catalog_state(
        db_session, neighborhood_id=shared.neighborhood_id, window_id=shared.window_id, now=now
    )
    body = cache.get(state, group_buy_id=shared.id)
    if body is None:
        gbs = group_buys_with_products(db_session, group_buy_ids=[shared.id])
        zone = ZoneInfo(place.timezone)
        window = catalog_window(state.window, gbs, zone=zone, currency=place.currency, now=now)
        body = SharedGroupBuyRead(window=window).model_dump_json().encode()
        cache.put(state, body, group_buy_id=shared.id)
    return body


@cache
def _share_query() -> Select[int, int, int]:
    """The id, neighborhood and window of the group buy shared by `:token`, built once."""
    token = bindparam("token", type_=GroupBuy.share_token.type)
    return select(GroupBuy.id, GroupBuy.neighborhood_id, GroupBuy.window_id).where(
        GroupBuy.share_token == token
    )


def catalog_state(
    db_session: Session, *, neighborhood_id: int, window_id: int | None, now: datetime
) -> tuple[Place, list[WindowState]]:
    """The neighborhood's place and the state of each window the catalog shows (its open
    windows, soonest first, or the one asked for): one statement. WindowNotFound for a window
    not of the neighborhood's city."""
    parameters = {"neighborhood_id": neighborhood_id, "window_id": window_id, "now": now}
    statement = _state_query(one_window=window_id is not None)
    rows = db_session.connection().execute(statement, parameters).all()  # Core: no ORM work
    first = rows[0]
    place = Place(*first[:5])
    if window_id is not None and first.window_id is None:
        raise WindowNotFound("no such delivery window in your city", field="query.window_id")
    states = [
        WindowState(
            place=place,
            window=WindowInfo(*row[5:13]),
            is_open=row.status == WindowStatus.OPEN and row.cutoff_at > now,
            group_buys=row.group_buys or 0,
            group_buy_revisions=row.group_buy_revisions or 0,
            product_revisions=row.product_revisions or 0,
            set_revision=row.set_revision or 0,
        )
        for row in rows
        if row.window_id is not None
    ]
    return place, states


@cache
def _state_query(*, one_window: bool) -> Select[Any]:
    """The neighborhood's place, then each window's `WindowInfo` and revisions; one row with
    the window's columns NULL when there is no such window. Built once per shape: its
    parameters are `neighborhood_id`, and `window_id` or `now`."""
    neighborhood_id = bindparam("neighborhood_id", type_=Integer)
    hood = neighborhood_queries.neighborhood_place_columns_query().subquery("hood")
    windows = window_queries.catalog_window_info_query().subquery("window")
    products = catalog_queries.product_revision_query().subquery("product")
    offers = (
        select(
            GroupBuy.window_id,
            func.count().label("group_buys"),
            func.sum(GroupBuy.revision).label("group_buy_revisions"),
            func.sum(products.c.revision).label("product_revisions"),
        )
        .join(products, products.c.id == GroupBuy.product_id)
        .where(GroupBuy.neighborhood_id == neighborhood_id)
        .group_by(GroupBuy.window_id)
    )
    shown: ColumnElement[bool]
    if one_window:
        window_id = bindparam("window_id", type_=Integer)
        shown = windows.c.id == window_id
        offers = offers.where(GroupBuy.window_id == window_id)
    else:
        now = bindparam("now", type_=windows.c.cutoff_at.type)
        shown = and_(windows.c.status == WindowStatus.OPEN, windows.c.cutoff_at > now)
    offered = offers.subquery("offers")
    sets = GroupBuySetRevision
    return (
        select(
            hood.c.id.label("hood_id"),
            hood.c.name.label("hood_name"),
            hood.c.city_id.label("hood_city_id"),
            city_queries.city_timezone_query(hood.c.city_id).label("timezone"),
            city_queries.city_currency_query(hood.c.city_id).label("currency"),
            windows.c.id.label("window_id"),
            windows.c.city_id.label("window_city_id"),
            *list(windows.c)[2:],
            offered.c.group_buys,
            offered.c.group_buy_revisions,
            offered.c.product_revisions,
            sets.revision.label("set_revision"),
        )
        .select_from(hood)
        .outerjoin(windows, and_(windows.c.city_id == hood.c.city_id, shown))
        .outerjoin(offered, offered.c.window_id == windows.c.id)
        .outerjoin(
            sets, and_(sets.neighborhood_id == neighborhood_id, sets.window_id == windows.c.id)
        )
        .where(hood.c.id == neighborhood_id)
        .order_by(windows.c.cutoff_at, windows.c.id)
    )
