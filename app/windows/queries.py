"""Reads of delivery windows for other packages: plain values, never the rows."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.windows.models import DeliveryWindow, WindowStatus

__all__ = ["WindowInfo", "WindowStatus", "open_windows", "window_info", "window_in_city"]


@dataclass(frozen=True)
class WindowInfo:
    """A delivery window's times and status, as stored (UTC)."""

    id: int
    city_id: int
    local_date: date
    slot_name: str
    cutoff_at: datetime
    ready_by: datetime
    pickup_deadline: datetime
    status: WindowStatus


_COLUMNS = (
    DeliveryWindow.id,
    DeliveryWindow.city_id,
    DeliveryWindow.local_date,
    DeliveryWindow.slot_name,
    DeliveryWindow.cutoff_at,
    DeliveryWindow.ready_by,
    DeliveryWindow.pickup_deadline,
    DeliveryWindow.status,
)


def _infos(rows: Iterable[Any]) -> list[WindowInfo]:
    return [WindowInfo(*row) for row in rows]


def window_info(*, db_session: Session, window_id: int) -> WindowInfo | None:
    """The window as stored now (read afresh), or None."""
    found = _infos(
        db_session.execute(select(*_COLUMNS).where(DeliveryWindow.id == window_id)).all()
    )
    return found[0] if found else None


def window_in_city(*, db_session: Session, window_id: int, city_id: int) -> WindowInfo | None:
    """The window if it belongs to the city, else None."""
    window = window_info(db_session=db_session, window_id=window_id)
    return window if window is not None and window.city_id == city_id else None


def open_windows(*, db_session: Session, city_id: int, now: datetime) -> list[WindowInfo]:
    """The city's windows still taking orders (open, cut-off after `now`), soonest first."""
    return _infos(
        db_session.execute(
            select(*_COLUMNS)
            .where(
                DeliveryWindow.city_id == city_id,
                DeliveryWindow.status == WindowStatus.OPEN,
                DeliveryWindow.cutoff_at > now,
            )
            .order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id)
        ).all()
    )
