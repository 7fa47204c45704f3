"""When vans and drivers are already taken by live routes of other windows: a van holds one
route at a time, and a driver drives one route at a time.

A van has no status column; its state is derived from its routes: on a route while one is live,
off shift outside its shift hours, idle otherwise. Planning fits new routes into the spans its
live routes leave free (`busy_elsewhere`, `free_span`); starting a route while the van drives
another is refused (`handover.ensure_free_to_start`, 409 vehicle_busy). Proved by
tests/logistics/test_fleet_seams.py::test_a_van_holds_one_route_at_a_time_across_windows.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from logistics.models import Route, RouteStatus, Vehicle

LIVE = (RouteStatus.PLANNED, RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)
Span = tuple[datetime, datetime]


def busy_elsewhere(
    db_session: Session, window_id: int, vehicles: Sequence[Vehicle]
) -> dict[tuple[str, int | None], list[Span]]:
    """Time spans ("vehicle", id) / ("driver", id) are taken by live routes of other windows."""
    vehicle_ids = [v.id for v in vehicles]
    driver_ids = [v.default_driver_id for v in vehicles if v.default_driver_id is not None]
    if not vehicle_ids:
        return {}
    routes = db_session.scalars(
        select(Route).where(
            Route.window_id != window_id,
            Route.status.in_(LIVE),
            or_(Route.vehicle_id.in_(vehicle_ids), Route.driver_id.in_(driver_ids)),
        )
    )
    spans: dict[tuple[str, int | None], list[Span]] = defaultdict(list)
    for route in routes:
        span = (route.planned_departure, max(route.planned_return, route.eta_return))
        spans[("vehicle", route.vehicle_id)].append(span)
        if route.driver_id is not None:
            spans[("driver", route.driver_id)].append(span)
    return spans


def free_span(begin: datetime, end: datetime, taken: Sequence[Span]) -> Span:
    """Narrow [begin, end) so that it overlaps none of the taken spans (may become empty)."""
    for start, stop in sorted(taken):
        if stop <= begin or start >= end:
            continue
        if start <= begin:
            begin = stop
        else:
            end = min(end, start)
    return begin, end


def ensure_driver_free(*, db_session: Session, route: Route, driver_id: int | None) -> None:
    """Refuse (409 driver_busy) giving a route to a driver with another live route at that time."""
    from logistics.handover import DriverBusy

    if driver_id is None:
        return
    span = (route.planned_departure, max(route.planned_return, route.eta_return))
    others = db_session.scalars(
        select(Route).where(
            Route.driver_id == driver_id, Route.status.in_(LIVE), Route.id != route.id
        )
    )
    for other in others:
        taken = (other.planned_departure, max(other.planned_return, other.eta_return))
        if taken[0] < span[1] and span[0] < taken[1]:
            raise DriverBusy(
                f"driver {driver_id} drives route {other.id} at that time",
                field="driver_id",
                other_route_id=other.id,
            )
