"""Reads of the delivery windows for other packages: plain values, never the model.

`WindowStatus` is re-exported as a value."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

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
    columns = (
        DeliveryWindow.id,
        DeliveryWindow.city_id,
        DeliveryWindow.local_date,
        DeliveryWindow.slot_name,
        DeliveryWindow.cutoff_at,
        DeliveryWindow.ready_by,
        DeliveryWindow.pickup_deadline,
        DeliveryWindow.status,
    )
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
