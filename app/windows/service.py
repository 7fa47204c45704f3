"""Delivery windows: generated from a city's schedule in local time, stored in UTC.

The clock-change rules are in `app.windows.schedule`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.cities import queries as city_queries
from app.cities import service as city_service
from app.core import pagination, persistence
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.windows import schedule
from app.windows.models import DeliveryWindow, WindowStatus
from app.windows.schemas import WindowUpdate


class WindowNotFound(NotFound):
    """No delivery window (of the city) has this id."""

    case = "window_not_found"


class UnknownWindow(InvalidInput):
    """The `window_id` given in the body names no delivery window of the city."""

    case = "unknown_window"


class WindowClosed(Conflict):
    """The window's cut-off has passed: no more orders, cancellations or group-buy changes."""

    case = "window_closed"


class WindowNotOpen(Conflict):
    """The window is closed or cancelled; only open windows can change."""

    case = "window_not_open"


class CutoffInPast(InvalidInput):
    """A new cut-off must be in the future."""

    case = "cutoff_in_past"


class WindowTimesOutOfOrder(InvalidInput):
    """A window's instants must keep cutoff_at < ready_by < pickup_deadline."""

    case = "window_times_out_of_order"


class NoDaysToGenerate(InvalidInput):
    """Windows are generated for at least one day."""

    case = "no_days_to_generate"


class NoWindowSlots(InvalidInput):
    """The city has no window slots to generate windows from."""

    case = "no_window_slots"


@dataclass(frozen=True)
class PlannedWindow:
    """A window the schedule calls for: local date, slot and its UTC instants."""

    local_date: date
    slot_name: str
    times: schedule.WindowTimes


def get(*, db_session: Session, window_id: int) -> DeliveryWindow | None:
    """The window with this id, if any."""
    return db_session.get(DeliveryWindow, window_id)


def get_required(
    *,
    db_session: Session,
    window_id: int,
    city_id: int | None = None,
    field: str = "window_id",
    for_update: bool = False,
) -> DeliveryWindow:
    """The window with this id (of `city_id` if given; row-locked when `for_update`), or
    WindowNotFound naming `field`."""
    window = db_session.get(DeliveryWindow, window_id, with_for_update=for_update)
    if window is None or (city_id is not None and window.city_id != city_id):
        raise WindowNotFound(f"no delivery window with id {window_id}", field=field)
    return window


def get_all(
    *,
    db_session: Session,
    city_id: int | None = None,
    local_date: date | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: WindowStatus | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DeliveryWindow], int]:
    """Windows by cut-off, filtered by city, local date (or range) and status."""
    query = select(DeliveryWindow).order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id)
    if city_id is not None:
        query = query.where(DeliveryWindow.city_id == city_id)
    if local_date is not None:
        query = query.where(DeliveryWindow.local_date == local_date)
    if date_from is not None:
        query = query.where(DeliveryWindow.local_date >= date_from)
    if date_to is not None:
        query = query.where(DeliveryWindow.local_date <= date_to)
    if status is not None:
        query = query.where(DeliveryWindow.status == status)
    return pagination.page(db_session=db_session, query=query, limit=limit, offset=offset)


def get_open(
    *, db_session: Session, city_id: int, now: datetime | None = None
) -> list[DeliveryWindow]:
    """The city's windows still taking orders (open, cut-off in the future), soonest first."""
    query = (
        select(DeliveryWindow)
        .where(
            DeliveryWindow.city_id == city_id,
            DeliveryWindow.status == WindowStatus.OPEN,
            DeliveryWindow.cutoff_at > (now or utcnow()),
        )
        .order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id)
    )
    return list(db_session.scalars(query))


def plan(
    *, tz: ZoneInfo, slots: Sequence[city_queries.DailySlot], start: date, days: int
) -> list[PlannedWindow]:
    """The windows the schedule calls for on `days` local dates from `start` (pure)."""
    planned = []
    for offset in range(days):
        local_date = start + timedelta(days=offset)
        for slot in slots:
            times = schedule.window_times(
                local_date=local_date,
                ready_by_local=slot.ready_by_local,
                cutoff_hours_before=slot.cutoff_hours_before,
                pickup_hours_after=slot.pickup_hours_after,
                tz=tz,
            )
            planned.append(PlannedWindow(local_date=local_date, slot_name=slot.name, times=times))
    return planned


def generate(
    *, db_session: Session, city_id: int, start: date, days: int, now: datetime | None = None
) -> list[DeliveryWindow]:
    """Create the city's missing windows for `days` local dates from `start`; return those created.

    Idempotent, also under concurrency (insert ... on conflict do nothing on the unique city,
    date and slot). Windows whose cut-off is not after `now` (default: the current time) are not
    created: nobody could order in them."""
    if days < 1:
        raise NoDaysToGenerate("generate at least one day", field="days")
    city = city_service.get_required(db_session=db_session, city_id=city_id)
    slots = city_queries.daily_slots(db_session, city.id)
    if not slots:
        raise NoWindowSlots(
            "the city has no window slots; add them under /cities/{id}/window-slots",
            field="city_id",
        )
    now = now or utcnow()
    existing = {
        (local_date, slot_name)
        for local_date, slot_name in db_session.execute(
            select(DeliveryWindow.local_date, DeliveryWindow.slot_name).where(
                DeliveryWindow.city_id == city.id,
                DeliveryWindow.local_date >= start,
                DeliveryWindow.local_date < start + timedelta(days=days),
            )
        )
    }
    rows: list[dict[str, Any]] = [
        {
            "city_id": city.id,
            "local_date": p.local_date,
            "slot_name": p.slot_name,
            "cutoff_at": p.times.cutoff_at,
            "ready_by": p.times.ready_by,
            "pickup_deadline": p.times.pickup_deadline,
            "status": WindowStatus.OPEN,
        }
        for p in plan(tz=city_service.zone(city), slots=slots, start=start, days=days)
        if p.times.cutoff_at > now and (p.local_date, p.slot_name) not in existing
    ]
    if not rows:
        return []
    statement = _insert_skipping_existing(db_session).returning(DeliveryWindow)
    created = list(db_session.scalars(statement, rows))
    return sorted(created, key=lambda w: (w.cutoff_at, w.slot_name))


def _insert_skipping_existing(db_session: Session) -> Insert:
    """INSERT that skips rows clashing with an existing (city, date, slot) window."""
    keys = ["city_id", "local_date", "slot_name"]
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(DeliveryWindow).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(DeliveryWindow).on_conflict_do_nothing(index_elements=keys)
    return insert(DeliveryWindow)


def update(
    *,
    db_session: Session,
    window: DeliveryWindow,
    window_in: WindowUpdate,
    now: datetime | None = None,
) -> DeliveryWindow:
    """Move an open window's instants, keeping cutoff_at < ready_by < pickup_deadline."""
    now = now or utcnow()
    changes = {name: value.astimezone(UTC) for name, value in window_in.changes().items()}
    if not changes:
        return window
    if window.status != WindowStatus.OPEN:
        raise WindowNotOpen(
            f"the window is {window.status.value}; only open windows can change", field="status"
        )
    if window.cutoff_at <= now:
        raise WindowClosed("the window's cut-off has passed; it is being closed", field="cutoff_at")
    cutoff = changes.get("cutoff_at", window.cutoff_at)
    ready_by = changes.get("ready_by", window.ready_by)
    deadline = changes.get("pickup_deadline", window.pickup_deadline)
    if "cutoff_at" in changes and cutoff <= now:
        raise CutoffInPast("cutoff_at must be in the future", field="cutoff_at")
    if cutoff >= ready_by:
        field = "cutoff_at" if "cutoff_at" in changes else "ready_by"
        raise WindowTimesOutOfOrder("cutoff_at must be before ready_by", field=field)
    if ready_by >= deadline:
        field = "pickup_deadline" if "pickup_deadline" in changes else "ready_by"
        raise WindowTimesOutOfOrder("ready_by must be before pickup_deadline", field=field)
    persistence.apply(window, changes)
    db_session.flush()
    return window


def start_closing(window: DeliveryWindow) -> None:
    """The cut-off passed and its group buys are being decided: open -> closing (once)."""
    if window.status == WindowStatus.OPEN:
        window.status = WindowStatus.CLOSING


def mark_closed(window: DeliveryWindow, now: datetime) -> None:
    """Every group buy of the window is decided: -> closed, when (once)."""
    if window.status != WindowStatus.CLOSED:
        window.status = WindowStatus.CLOSED
        window.closed_at = now


def start_closing_by_id(*, db_session: Session, window_id: int) -> None:
    """`start_closing` for the window with this id, as stored now."""
    window = db_session.get(DeliveryWindow, window_id, populate_existing=True)
    if window is not None:
        start_closing(window)


def mark_closed_by_id(*, db_session: Session, window_id: int, now: datetime) -> None:
    """`mark_closed` for the window with this id, as stored now."""
    window = db_session.get(DeliveryWindow, window_id, populate_existing=True)
    if window is not None:
        mark_closed(window, now)
