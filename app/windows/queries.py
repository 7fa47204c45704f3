"""Reads of the delivery windows for other packages: plain values, never the model."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.windows.models import DeliveryWindow, WindowStatus


@dataclass(frozen=True)
class WindowCutoff:
    """A window's city and cut-off."""

    id: int
    city_id: int
    cutoff_at: datetime


def open_windows_with_cutoff_between(
    db_session: Session, after: datetime, until: datetime
) -> list[WindowCutoff]:
    """The open windows whose cut-off is after `after` and at or before `until`."""
    rows = db_session.execute(
        select(DeliveryWindow.id, DeliveryWindow.city_id, DeliveryWindow.cutoff_at).where(
            DeliveryWindow.status == WindowStatus.OPEN,
            DeliveryWindow.cutoff_at > after,
            DeliveryWindow.cutoff_at <= until,
        )
    )
    return [WindowCutoff(*row) for row in rows]
