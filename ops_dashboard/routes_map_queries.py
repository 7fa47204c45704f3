"""Reading queries of the routes map: a window's routes, stops, places and unassigned stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities.models import Depot
from app.core.db import utcnow
from app.neighborhoods.models import LockerBank, Neighborhood
from app.staff.queries import staff_display_name_query
from app.windows.models import DeliveryWindow
from lockers.models import LockerBankState
from logistics.models import Route, RouteStatus, RouteStop, StopStatus, UnassignedStop, Vehicle

STALE_AFTER = timedelta(minutes=20)
DONE_STOPS = (StopStatus.SERVED, StopStatus.FAILED)
# One colour per status, the shared macro's kinds.
STATUS_KIND = {
    RouteStatus.PLANNED: "unassigned",
    RouteStatus.PUBLISHED: "assigned",
    RouteStatus.IN_PROGRESS: "transit",
    RouteStatus.COMPLETED: "done",
    RouteStatus.COMPLETED_WITH_ALARM: "failed",
    RouteStatus.ABORTED: "failed",
    RouteStatus.CANCELLED: "unassigned",
}
STATUS_LABEL = {
    RouteStatus.PLANNED: "planned",
    RouteStatus.PUBLISHED: "published",
    RouteStatus.IN_PROGRESS: "in transit",
    RouteStatus.COMPLETED: "done",
    RouteStatus.COMPLETED_WITH_ALARM: "done with parcels aboard",
    RouteStatus.ABORTED: "aborted",
    RouteStatus.CANCELLED: "cancelled",
}


@dataclass
class StopRow:
    """A stop as the map shows it."""

    id: int
    sequence: int
    bank_id: int
    bank_name: str
    status: str
    eta: datetime
    planned_arrival: datetime
    reached: bool


@dataclass
class RouteRow:
    """A route with its progress, drift and staleness."""

    id: int
    vehicle_id: int
    van: str
    driver: str
    status: RouteStatus
    depot_id: int
    stops: list[StopRow] = field(default_factory=list)
    late_minutes: int = 0
    stale_minutes: int | None = None
    last_action_at: datetime | None = None

    @property
    def done(self) -> int:
        """Stops served or failed."""
        return sum(1 for s in self.stops if s.status in DONE_STOPS)

    @property
    def kind(self) -> str:
        """The status colour (stale wins while in transit)."""
        return "stale" if self.stale_minutes is not None else STATUS_KIND[self.status]

    @property
    def label(self) -> str:
        """The status in words."""
        return STATUS_LABEL[self.status]

    @property
    def movable_stops(self) -> list[StopRow]:
        """Stops an operator may still move to another van."""
        if self.status not in (RouteStatus.PLANNED, RouteStatus.PUBLISHED):
            return []
        return [s for s in self.stops if s.status == StopStatus.PENDING]


@dataclass
class Place:
    """A point on the map."""

    id: int
    name: str
    lat: float
    lon: float
    online: bool = True


@dataclass
class Unassigned:
    """A bank no route serves, with the reason."""

    bank_id: int
    bank_name: str
    reason_code: str
    reason: str
    parcel_count: int


@dataclass
class RoutesMap:
    """Everything the routes page draws for one window."""

    window: DeliveryWindow
    routes: list[RouteRow]
    neighborhoods: list[Place]
    banks: list[Place]
    depots: list[Place]
    unassigned: list[Unassigned]
    vans: list[tuple[int, str]]
    now: datetime


def windows_of(db_session: Session, city_id: int, around: datetime) -> list[DeliveryWindow]:
    """The city's windows from yesterday to tomorrow, in time order."""
    return list(
        db_session.scalars(
            select(DeliveryWindow)
            .where(
                DeliveryWindow.city_id == city_id,
                DeliveryWindow.ready_by >= around - timedelta(days=1),
                DeliveryWindow.ready_by <= around + timedelta(days=2),
            )
            .order_by(DeliveryWindow.ready_by)
        )
    )


def current_window(windows: list[DeliveryWindow], routed: set[int], now: datetime) -> int | None:
    """The window an operator is most likely watching: the earliest routed one not yet past its
    pickup deadline, else the next to close."""
    live = [w for w in windows if w.id in routed and w.pickup_deadline > now]
    if live:
        return live[0].id
    upcoming = [w for w in windows if w.ready_by > now]
    return upcoming[0].id if upcoming else (windows[-1].id if windows else None)


def routed_windows(db_session: Session, window_ids: list[int]) -> set[int]:
    """Which of these windows have routes."""
    if not window_ids:
        return set()
    return set(
        db_session.scalars(
            select(Route.window_id).where(Route.window_id.in_(window_ids)).distinct()
        )
    )


def load_map(db_session: Session, window: DeliveryWindow, now: datetime | None = None) -> RoutesMap:
    """The window's routes and the city's places, in a handful of queries."""
    now = now or utcnow()
    routes = list(
        db_session.execute(
            select(Route, Vehicle.code, staff_display_name_query(Route.driver_id))
            .join(Vehicle, Vehicle.id == Route.vehicle_id)
            .where(Route.window_id == window.id)
            .order_by(Route.vehicle_id)
        ).all()
    )
    route_ids = [r.id for r, *_ in routes]
    stops = (
        db_session.scalars(
            select(RouteStop)
            .where(RouteStop.route_id.in_(route_ids), RouteStop.status != StopStatus.CANCELLED)
            .order_by(RouteStop.route_id, RouteStop.sequence)
        ).all()
        if route_ids
        else []
    )
    hoods = db_session.execute(
        select(Neighborhood.id, Neighborhood.name, Neighborhood.lat, Neighborhood.lon).where(
            Neighborhood.city_id == window.city_id, Neighborhood.active.is_(True)
        )
    ).all()
    bank_rows = db_session.execute(
        select(
            LockerBank.id, LockerBank.name, LockerBank.lat, LockerBank.lon, LockerBankState.online
        )
        .join(Neighborhood, Neighborhood.id == LockerBank.neighborhood_id)
        .outerjoin(LockerBankState, LockerBankState.bank_id == LockerBank.id)
        .where(Neighborhood.city_id == window.city_id)
    ).all()
    bank_names = {b.id: b.name for b in bank_rows}
    rows: dict[int, RouteRow] = {}
    for route, van, driver_name in routes:
        rows[route.id] = RouteRow(
            id=route.id,
            vehicle_id=route.vehicle_id,
            van=van,
            driver=driver_name or "",
            status=RouteStatus(route.status),
            depot_id=route.depot_id,
            last_action_at=route.started_at,
        )
    for stop in stops:
        row = rows[stop.route_id]
        row.stops.append(
            StopRow(
                id=stop.id,
                sequence=stop.sequence,
                bank_id=stop.bank_id,
                bank_name=bank_names.get(stop.bank_id, str(stop.bank_id)),
                status=StopStatus(stop.status).value,
                eta=stop.eta,
                planned_arrival=stop.planned_arrival,
                reached=stop.arrived_at is not None,
            )
        )
        for moment in (stop.arrived_at, stop.departed_at):
            if moment is not None and (row.last_action_at is None or moment > row.last_action_at):
                row.last_action_at = moment
    for row in rows.values():
        _drift_and_staleness(row, now)
    unassigned = [
        Unassigned(
            u.bank_id, bank_names.get(u.bank_id, ""), u.reason_code, u.reason, u.parcel_count
        )
        for u in db_session.scalars(
            select(UnassignedStop)
            .where(UnassignedStop.window_id == window.id, UnassignedStop.resolved_at.is_(None))
            .order_by(UnassignedStop.id)
        )
    ]
    depots = [
        Place(d.id, d.name, d.lat, d.lon)
        for d in db_session.scalars(select(Depot).where(Depot.city_id == window.city_id))
    ]
    vans = [
        (v_id, code)
        for v_id, code in db_session.execute(
            select(Vehicle.id, Vehicle.code)
            .where(Vehicle.city_id == window.city_id, Vehicle.active.is_(True))
            .order_by(Vehicle.code)
        )
    ]
    return RoutesMap(
        window=window,
        routes=list(rows.values()),
        neighborhoods=[Place(h.id, h.name, h.lat, h.lon) for h in hoods],
        banks=[Place(b.id, b.name, b.lat, b.lon, bool(b.online)) for b in bank_rows],
        depots=depots,
        unassigned=unassigned,
        vans=vans,
        now=now,
    )


def _drift_and_staleness(row: RouteRow, now: datetime) -> None:
    """Late by how much at the next stop (its ETA, or now once that ETA passed), and whether
    the driver has done nothing for too long while in transit."""
    ahead = next((s for s in row.stops if not s.reached), None)
    if ahead is not None and row.status in (RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS):
        expected = ahead.eta
        if row.status == RouteStatus.IN_PROGRESS and expected < now:
            expected = now
        row.late_minutes = max(0, int((expected - ahead.planned_arrival).total_seconds() // 60))
    if row.status == RouteStatus.IN_PROGRESS and row.last_action_at is not None:
        idle = now - row.last_action_at
        if idle >= STALE_AFTER:
            row.stale_minutes = int(idle.total_seconds() // 60)
