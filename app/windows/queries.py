"""Reads of the delivery windows for other packages: plain values, never the model.

`WindowStatus` is re-exported as a value."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.windows.models import DeliveryWindow
from app.windows.models import WindowStatus as WindowStatus


@dataclass(frozen=True)
class WindowCutoff:
    """A window's city, state and cut-off."""

    id: int
    city_id: int
    status: WindowStatus
    cutoff_at: datetime


def window_cutoff_query(window_id: int) -> Select[int, int, WindowStatus, datetime]:
    """The window's id, city_id, status and cutoff_at, to read along with other tables."""
    return select(
        DeliveryWindow.id, DeliveryWindow.city_id, DeliveryWindow.status, DeliveryWindow.cutoff_at
    ).where(DeliveryWindow.id == window_id)


def window_cutoff(db_session: Session, window_id: int) -> WindowCutoff | None:
    """The window's city, state and cut-off, or None when there is no such window."""
    row = db_session.execute(window_cutoff_query(window_id)).one_or_none()
    return None if row is None else WindowCutoff(*row)


@dataclass(frozen=True)
class WindowInfo:
    """A delivery window's times (UTC) and status, as a catalog shows it."""

    id: int
    city_id: int
    local_date: date
    slot_name: str
    cutoff_at: datetime
    ready_by: datetime
    pickup_deadline: datetime
    status: WindowStatus


def _window_infos(db_session: Session, query: Select[Any]) -> list[WindowInfo]:
    columns = catalog_window_info_query().selected_columns
    rows = db_session.execute(query.with_only_columns(*columns))
    return [WindowInfo(**row._mapping) for row in rows]


def window_info(db_session: Session, window_id: int) -> WindowInfo | None:
    """The window's times and status, or None when there is no such window."""
    found = _window_infos(db_session, select(DeliveryWindow).where(DeliveryWindow.id == window_id))
    return found[0] if found else None


def open_windows(db_session: Session, city_id: int, now: datetime) -> list[WindowInfo]:
    """The city's windows still taking orders (open, cut-off after `now`), soonest first."""
    return _window_infos(
        db_session,
        select(DeliveryWindow)
        .where(
            DeliveryWindow.city_id == city_id,
            DeliveryWindow.status == WindowStatus.OPEN,
            DeliveryWindow.cutoff_at > now,
        )
        .order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id),
    )


@dataclass(frozen=True)
class WindowView:
    """A delivery window's times and status (`status` as its string value)."""

    id: int
    city_id: int
    local_date: date
    slot_name: str
    cutoff_at: datetime
    ready_by: datetime
    pickup_deadline: datetime
    status: str
    closed_at: datetime | None

    @property
    def is_closed(self) -> bool:
        """Whether the window's cut-off has run."""
        return self.status == WindowStatus.CLOSED.value

    @property
    def label(self) -> str:
        """The window's date and slot, as lists show it."""
        return f"{self.local_date.isoformat()} {self.slot_name}"


def _view(window: DeliveryWindow) -> WindowView:
    return WindowView(
        id=window.id,
        city_id=window.city_id,
        local_date=window.local_date,
        slot_name=window.slot_name,
        cutoff_at=window.cutoff_at,
        ready_by=window.ready_by,
        pickup_deadline=window.pickup_deadline,
        status=str(window.status.value),
        closed_at=window.closed_at,
    )


def window_view(db_session: Session, window_id: int) -> WindowView | None:
    """The window with this id, or None."""
    window = db_session.get(DeliveryWindow, window_id)
    return _view(window) if window is not None else None


def windows_by_id(db_session: Session, window_ids: Collection[int]) -> dict[int, WindowView]:
    """The windows with these ids (those that exist), by id."""
    if not window_ids:
        return {}
    found = db_session.scalars(select(DeliveryWindow).where(DeliveryWindow.id.in_(window_ids)))
    return {window.id: _view(window) for window in found}


def latest_closed_window(db_session: Session, city_id: int, now: datetime) -> WindowView | None:
    """The city's closed window whose cut-off came last before `now`, if any."""
    window = db_session.scalar(
        select(DeliveryWindow)
        .where(
            DeliveryWindow.city_id == city_id,
            DeliveryWindow.status == WindowStatus.CLOSED,
            DeliveryWindow.cutoff_at <= now,
        )
        .order_by(DeliveryWindow.cutoff_at.desc())
        .limit(1)
    )
    return _view(window) if window is not None else None


def count_windows_ready_between(
    *, db_session: Session, city_id: int, after: datetime, until: datetime
) -> int:
    """How many of the city's windows are ready after `after` and by `until`."""
    return int(
        db_session.scalar(
            select(func.count(DeliveryWindow.id)).where(
                DeliveryWindow.city_id == city_id,
                DeliveryWindow.ready_by > after,
                DeliveryWindow.ready_by <= until,
            )
        )
        or 0
    )


def window_cutoff_at(*, db_session: Session, window_id: int) -> datetime | None:
    """A window's cut-off time, if the window exists."""
    return db_session.scalar(select(DeliveryWindow.cutoff_at).where(DeliveryWindow.id == window_id))


def open_windows_with_cutoff_between(
    db_session: Session, after: datetime, until: datetime
) -> list[WindowCutoff]:
    """The open windows whose cut-off is after `after` and at or before `until`."""
    rows = db_session.execute(
        select(
            DeliveryWindow.id,
            DeliveryWindow.city_id,
            DeliveryWindow.status,
            DeliveryWindow.cutoff_at,
        ).where(
            DeliveryWindow.status == WindowStatus.OPEN,
            DeliveryWindow.cutoff_at > after,
            DeliveryWindow.cutoff_at <= until,
        )
    )
    return [WindowCutoff(*row) for row in rows]


def window_city_query(
    window_id: ColumnElement[int] | InstrumentedAttribute[int],
) -> ScalarSelect[int]:
    """The city id of the window `window_id` names, to read along with other tables."""
    return select(DeliveryWindow.city_id).where(DeliveryWindow.id == window_id).scalar_subquery()


def window_ids_of_day_and_next(db_session: Session, city_id: int, local_date: date) -> list[int]:
    """The city's windows of one local day and the first one of a later day, by cut-off."""
    of_city = DeliveryWindow.city_id == city_id
    todays = list(
        db_session.scalars(
            select(DeliveryWindow.id)
            .where(of_city, DeliveryWindow.local_date == local_date)
            .order_by(DeliveryWindow.cutoff_at)
        )
    )
    following = db_session.scalar(
        select(DeliveryWindow.id)
        .where(of_city, DeliveryWindow.local_date > local_date)
        .order_by(DeliveryWindow.cutoff_at)
        .limit(1)
    )
    return todays + ([following] if following is not None else [])


def windows_by_cutoff(db_session: Session, window_ids: Collection[int]) -> list[WindowView]:
    """The windows with these ids (those that exist), by cut-off."""
    if not window_ids:
        return []
    found = db_session.scalars(
        select(DeliveryWindow)
        .where(DeliveryWindow.id.in_(list(window_ids)))
        .order_by(DeliveryWindow.cutoff_at)
    )
    return [_view(window) for window in found]


def windows_ready_between(
    db_session: Session, city_id: int, after: datetime, until: datetime
) -> list[WindowView]:
    """The city's windows ready at or after `after` and by `until`, by ready-by time."""
    found = db_session.scalars(
        select(DeliveryWindow)
        .where(
            DeliveryWindow.city_id == city_id,
            DeliveryWindow.ready_by >= after,
            DeliveryWindow.ready_by <= until,
        )
        .order_by(DeliveryWindow.ready_by)
    )
    return [_view(window) for window in found]


def catalog_window_info_query() -> Select[
    int, int, date, str, datetime, datetime, datetime, WindowStatus
]:
    """Every window's `WindowInfo` columns, in its order, to read along with other tables."""
    return select(
        DeliveryWindow.id,
        DeliveryWindow.city_id,
        DeliveryWindow.local_date,
        DeliveryWindow.slot_name,
        DeliveryWindow.cutoff_at,
        DeliveryWindow.ready_by,
        DeliveryWindow.pickup_deadline,
        DeliveryWindow.status,
    )


def window_ids_past_pickup_deadline(now: datetime) -> Select[int]:
    """The ids of the windows whose pickup deadline is at or before `now`, as a subquery."""
    return select(DeliveryWindow.id).where(DeliveryWindow.pickup_deadline <= now)


def window_ids_of_city(city_id: int) -> Select[int]:
    """The ids of the city's windows, as a subquery."""
    return select(DeliveryWindow.id).where(DeliveryWindow.city_id == city_id)
