"""Reads of the delivery windows for other packages: plain values, never the model.

`WindowStatus` is re-exported as a value."""

from dataclasses import dataclass
from datetime import datetime

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
