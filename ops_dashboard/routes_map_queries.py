"""Reading queries of the routes map: a window's routes, stops, places and unassigned stops."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.cities.queries import depot_points
from app.core.db import utcnow
from app.neighborhoods.queries import active_neighborhood_points, locker_banks
from app.staff.queries import staff_display_name_query
from app.windows.queries import WindowView, windows_ready_between
from lockers.queries import bank_links
from logistics import route_queries
from logistics.route_queries import RouteStatus, StopStatus

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

    window: WindowView
    routes: list[RouteRow]
    neighborhoods: list[Place]
    banks: list[Place]
    depots: list[Place]
    unassigned: list[Unassigned]
    vans: list[tuple[int, str]]
    now: datetime


def windows_of(db_session: Session, city_id: int, around: datetime) -> list[WindowView]:
    """The city's windows from yesterday to tomorrow, in time order."""
    return windows_ready_between(
        db_session, city_id, around - timedelta(days=1), around + timedelta(days=2)
    )


def current_window(windows: list[WindowView], routed: set[int], now: datetime) -> int | None:
    """The window an operator is most likely watching: the earliest routed one not yet past its
    pickup deadline, else the next to close."""
    live = [w for w in windows if w.id in routed and w.pickup_deadline > now]
    if live:
        return live[0].id
    upcoming = [w for w in windows if w.ready_by > now]
    return upcoming[0].id if upcoming else (windows[-1].id if windows else None)


def routed_windows(db_session: Session, window_ids: list[int]) -> set[int]:
    """Which of these windows have routes."""
    return route_queries.window_ids_with_routes(db_session, window_ids)


def _route_rows(db_session: Session, window_id: int) -> dict[int, RouteRow]:
    routes = route_queries.routes_of_window_query(window_id)
    driver = routes.selected_columns.driver_id
    rows: dict[int, RouteRow] = {}
    for route in db_session.execute(
        routes.add_columns(staff_display_name_query(driver).label("driver_name"))
    ):
        rows[route.id] = RouteRow(
            id=route.id,
            vehicle_id=route.vehicle_id,
            van=route.van_code,
            driver=route.driver_name or "",
            status=RouteStatus(route.status),
            depot_id=route.depot_id,
            last_action_at=route.started_at,
        )
    return rows


def load_map(db_session: Session, window: WindowView, now: datetime | None = None) -> RoutesMap:
    """The window's routes and the city's places, in a handful of queries."""
    now = now or utcnow()
    rows = _route_rows(db_session, window.id)
    stops = route_queries.stops_of_routes_not_cancelled(db_session, list(rows))
    hoods = active_neighborhood_points(db_session, window.city_id)
    banks = locker_banks(db_session=db_session, city_id=window.city_id)
    links = bank_links(db_session, [b.id for b in banks])
    bank_names = {b.id: b.name for b in banks}
    for stop in stops:
        row = rows[stop.route_id]
        row.stops.append(
            StopRow(
                id=stop.id,
                sequence=stop.sequence,
                bank_id=stop.bank_id,
                bank_name=bank_names.get(stop.bank_id, str(stop.bank_id)),
                status=stop.status.value,
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
        for u in route_queries.open_unassigned_stops(db_session, window.id)
    ]
    return RoutesMap(
        window=window,
        routes=list(rows.values()),
        neighborhoods=[Place(h.id, h.name, h.lat, h.lon) for h in hoods],
        banks=[
            Place(b.id, b.name, b.lat, b.lon, b.id in links and links[b.id].online) for b in banks
        ],
        depots=[
            Place(d.id, d.name, d.lat, d.lon) for d in depot_points(db_session, window.city_id)
        ],
        unassigned=unassigned,
        vans=route_queries.active_van_codes(db_session, window.city_id),
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
