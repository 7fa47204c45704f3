"""What other packages read of the delivery windows, as plain values."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.windows.models import DeliveryWindow


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
