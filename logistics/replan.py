"""Re-planning a window after a van and/or a locker bank dropped out (or the fleet grew).

Re-planning keeps served stops as they are, pins parcels already loaded on a van still
driving to that van (a capacity dimension only that van has), starts such vans from where
they are now, and re-solves only what remains. A dropped bank's parcels not yet deposited are
re-reserved at the nearest bank with room first; those that fit nowhere fall back to packed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.core.errors import InvalidInput
from app.events import service as event_service
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentStatus
from app.windows.queries import WindowView
from logistics import handover, lifecycle, planning, reservation
from logistics.errors import LockerBankNotFound, VehicleNotFound
from logistics.models import (
    Parcel,
    ParcelStatus,
    PipelineRun,
    Route,
    RouteStatus,
    UnassignedStop,
    Vehicle,
)
from logistics.plan_problem import ParcelLoad, VanStart, loads
from logistics.plan_store import PlanReport
from logistics.settings import LogisticsSettings, get_logistics_settings

ACTIVE_PARCEL = (ParcelStatus.RESERVED, ParcelStatus.LOADED)
LIVE_ROUTES = (RouteStatus.PLANNED, RouteStatus.PUBLISHED, RouteStatus.IN_PROGRESS)


class ReplanChangeMissing(InvalidInput):
    """A re-plan request names no van or bank that dropped out, nor a changed fleet."""

    case = "replan_change_missing"


def validate_replan(
    vehicle_id_out: int | None, bank_id_out: int | None, fleet_changed: bool = False
) -> None:
    """Refuse a re-plan request that names nothing that changed."""
    if vehicle_id_out is None and bank_id_out is None and not fleet_changed:
        raise ReplanChangeMissing(
            "name a vehicle_id_out or a bank_id_out, or set fleet_changed", field="vehicle_id_out"
        )


def replan_window(
    *,
    db_session: Session,
    window_id: int,
    vehicle_id_out: int | None = None,
    bank_id_out: int | None = None,
    now: datetime | None = None,
    depart_after: datetime | None = None,
    time_limit_s: float | None = None,
    settings: LogisticsSettings | None = None,
    solver: planning.Solver | None = None,
) -> PlanReport:
    """Re-plan what is left of a window after a van and/or a bank dropped out (caller commits).

    Served stops stay served; parcels loaded on a van still driving stay on it (pinned); the
    dropped van's remaining parcels and a dropped bank's parcels (re-reserved at the nearest bank
    with room) go to vans that start from the depot. Earlier unassigned stops are retried.
    """
    settings = settings or get_logistics_settings()
    now = (now or utcnow()).astimezone(UTC)
    window = planning.get_window(db_session, window_id)
    _check_dropouts(db_session, window, vehicle_id_out, bank_id_out)
    report = PlanReport(plan_version=_next_plan_version(db_session, window_id))

    routes = _routes(db_session, window_id)
    if vehicle_id_out is not None:
        _abort_route_of(routes, vehicle_id_out, now)
    if bank_id_out is not None:
        report.moved_parcels = _move_out_of_bank(db_session, window, bank_id_out, routes)
    handover.retry_not_routed(db_session=db_session, window_id=window_id)
    pinned_to = _detach_unserved(db_session, window_id, routes, vehicle_id_out)
    db_session.expire_all()
    routes = _routes(db_session, window_id)

    parcels = _open_loads(db_session, window_id, pinned_to)
    vans = _van_starts(
        db_session, window, routes, vehicle_id_out, now=now, leave=max(now, depart_after or now)
    )
    db_session.execute(
        update(UnassignedStop)
        .where(UnassignedStop.window_id == window_id, UnassignedStop.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    planning.solve_and_store(
        db_session,
        window=window,
        parcels=parcels,
        vans=vans,
        t0=now,
        plan_version=report.plan_version,
        new_route_status=RouteStatus.PUBLISHED,
        settings=settings,
        time_limit_s=time_limit_s or settings.replan_time_limit_s,
        report=report,
        solver=solver,
    )
    _publish(db_session, window_id, routes, vehicle_id_out, bank_id_out, report)
    return report


def _check_dropouts(
    db_session: Session,
    window: WindowView,
    vehicle_id_out: int | None,
    bank_id_out: int | None,
) -> None:
    """404 when the named van or bank is not one of the window's city."""
    if vehicle_id_out is not None:
        vehicle = db_session.get(Vehicle, vehicle_id_out)
        if vehicle is None or vehicle.city_id != window.city_id:
            raise VehicleNotFound(
                f"vehicle {vehicle_id_out} does not exist", field="vehicle_id_out"
            )
    if bank_id_out is not None:
        bank_city = neighborhood_queries.bank_city_id(db_session=db_session, bank_id=bank_id_out)
        if bank_city != window.city_id:
            raise LockerBankNotFound(
                f"locker bank {bank_id_out} does not exist", field="bank_id_out"
            )


def _next_plan_version(db_session: Session, window_id: int) -> int:
    """Count a new plan version on the window's pipeline run (made when missing)."""
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    if run is None:
        run = PipelineRun(window_id=window_id)
        db_session.add(run)
        db_session.flush()
    run.plan_version += 1
    return run.plan_version


def _routes(db_session: Session, window_id: int) -> list[Route]:
    """The window's routes with their stops."""
    return list(
        db_session.scalars(
            select(Route).where(Route.window_id == window_id).options(selectinload(Route.stops))
        )
    )


def _abort_route_of(routes: Sequence[Route], vehicle_id: int, now: datetime) -> None:
    """Abort the dropped van's route if it is still live."""
    dropped = {r.vehicle_id: r for r in routes}.get(vehicle_id)
    if dropped is not None and dropped.status in LIVE_ROUTES:
        lifecycle.transition(dropped, RouteStatus.ABORTED)
        dropped.aborted_at = now


def _detach_unserved(
    db_session: Session, window_id: int, routes: Sequence[Route], vehicle_id_out: int | None
) -> dict[int, int]:
    """Take every parcel not at a served stop off its stop, to be planned again.

    Parcels loaded on a van still driving (not the dropped one) stay pinned to it: the returned
    map of parcel id to vehicle id. Other loaded parcels go back to reserved. Unserved stops
    are removed from their routes.
    """
    served_stop_ids = {s.id for r in routes for s in r.stops if s.arrived_at is not None}
    stop_route = {s.id: r for r in routes for s in r.stops}
    rows = db_session.execute(
        select(Parcel.id, Parcel.status, Parcel.route_stop_id).where(
            Parcel.window_id == window_id,
            Parcel.status.in_(ACTIVE_PARCEL),
            Parcel.bank_id.is_not(None),
        )
    ).all()
    pinned_to: dict[int, int] = {}
    unload: list[int] = []
    for parcel_id, status, stop_id in rows:
        if stop_id in served_stop_ids:
            continue
        route = stop_route.get(stop_id) if stop_id is not None else None
        if (
            status == ParcelStatus.LOADED
            and route is not None
            and route.status == RouteStatus.IN_PROGRESS
            and route.vehicle_id != vehicle_id_out
        ):
            pinned_to[parcel_id] = route.vehicle_id
        elif status == ParcelStatus.LOADED:
            unload.append(parcel_id)
    lifecycle.move_parcels(
        db_session=db_session, parcel_ids=unload, frm=ParcelStatus.LOADED, to=ParcelStatus.RESERVED
    )
    open_ids = [s.id for r in routes for s in r.stops if s.arrived_at is None]
    if open_ids:
        db_session.execute(
            update(Parcel)
            .where(Parcel.route_stop_id.in_(open_ids))
            .values(route_stop_id=None)
            .execution_options(synchronize_session=False)
        )
        for route in routes:
            for stop in [s for s in route.stops if s.arrived_at is None]:
                route.stops.remove(stop)
        db_session.flush()
    return pinned_to


def _open_loads(db_session: Session, window_id: int, pinned_to: dict[int, int]) -> list[ParcelLoad]:
    """The window's active parcels on no stop, those loaded on a driving van pinned to it."""
    return [
        ParcelLoad(
            p.id, int(p.bank_id), p.temperature_class, p.volume_ml, p.weight_g, pinned_to.get(p.id)
        )
        for p in loads(
            db_session,
            (Parcel.window_id == window_id)
            & Parcel.status.in_(ACTIVE_PARCEL)
            & Parcel.bank_id.is_not(None)
            & Parcel.route_stop_id.is_(None),
        )
    ]


def _van_starts(
    db_session: Session,
    window: WindowView,
    routes: Sequence[Route],
    vehicle_id_out: int | None,
    *,
    now: datetime,
    leave: datetime,
) -> list[VanStart]:
    """Every van but the dropped one and those done: driving ones from their last stop."""
    by_vehicle = {r.vehicle_id: r for r in routes}
    vans: list[VanStart] = []
    for vehicle in planning.fleet(db_session=db_session, city_id=window.city_id):
        if vehicle.id == vehicle_id_out:
            continue
        route = by_vehicle.get(vehicle.id)
        if route is not None and route.status in (RouteStatus.COMPLETED, RouteStatus.ABORTED):
            continue
        if route is not None and route.status == RouteStatus.IN_PROGRESS:
            vans.append(_mid_route_start(vehicle, route, now))
        else:
            vans.append(VanStart(vehicle=vehicle, available_from=leave, route=route))
    return vans


def _mid_route_start(vehicle: Vehicle, route: Route, now: datetime) -> VanStart:
    """A driving van starts from its last served stop once it leaves it, fresh stops refused."""
    served = [s for s in route.stops if s.arrived_at is not None]
    last = max(served, key=lambda s: s.sequence) if served else None
    free_at = now
    if last is not None:
        free_at = max(now, last.departed_at or last.etd)
    started = route.started_at or now
    return VanStart(
        vehicle=vehicle,
        available_from=free_at,
        at_bank_id=last.bank_id if last is not None else None,
        cold_elapsed_s=max(0.0, (free_at - started).total_seconds()),
        takes_fresh=False,
        route=route,
    )


def _publish(
    db_session: Session,
    window_id: int,
    routes: Sequence[Route],
    vehicle_id_out: int | None,
    bank_id_out: int | None,
    report: PlanReport,
) -> None:
    """Cancel emptied routes, publish planned ones, and tell the rest of the house."""
    for route in routes:
        if route.status in (RouteStatus.PLANNED, RouteStatus.PUBLISHED) and not route.stops:
            lifecycle.transition(route, RouteStatus.CANCELLED)
        elif route.status == RouteStatus.PLANNED:
            lifecycle.transition(route, RouteStatus.PUBLISHED)
    # A re-plan publishes what it plans (also the window's first routes after the fleet grew).
    reservation.emit_reserved_events(db_session=db_session, window_id=window_id)
    event_service.emit(
        db_session=db_session,
        kind="route.replanned",
        dedupe_key=f"route.replanned:{window_id}:{report.plan_version}",
        payload={
            "window_id": window_id,
            "plan_version": report.plan_version,
            "vehicle_id_out": vehicle_id_out,
            "bank_id_out": bank_id_out,
            "routes": report.routes,
            "unassigned": len(report.unassigned),
        },
    )
    db_session.flush()


def _move_out_of_bank(
    db_session: Session, window: WindowView, bank_id: int, routes: Sequence[Route]
) -> int:
    """Re-reserve the window's parcels not yet deposited in a bank that dropped out."""
    served = {s.id for r in routes for s in r.stops if s.arrived_at is not None}
    parcels = [
        p
        for p in db_session.scalars(
            select(Parcel).where(
                Parcel.window_id == window.id,
                Parcel.bank_id == bank_id,
                Parcel.status.in_(ACTIVE_PARCEL),
            )
        )
        if p.route_stop_id not in served
    ]
    if not parcels:
        return 0
    comp_ids = [p.compartment_id for p in parcels if p.compartment_id is not None]
    if comp_ids:
        compartment_lifecycle.move_compartments(
            db_session=db_session,
            ids=comp_ids,
            frm=CompartmentStatus.RESERVED,
            to=CompartmentStatus.FREE,
        )
    wants = []
    for p in parcels:
        p.bank_id = None
        p.compartment_id = None
        wants.append(
            reservation.Want(
                p.id,
                p.order_id,
                p.resident_id,
                p.neighborhood_id,
                TemperatureClass(p.temperature_class),
                p.compartment_size,
                ParcelStatus(p.status),
            )
        )
    db_session.flush()
    result = reservation.reserve(
        db_session=db_session,
        city_id=window.city_id,
        wants=wants,
        exclude_bank_ids={bank_id},
        from_bank_of={p.id: bank_id for p in parcels},
        commit=False,
    )
    if result.unplaced:
        # Parcels that fit nowhere fall back to packed (no compartment): reported, not routed.
        lifecycle.move_parcels(
            db_session=db_session,
            parcel_ids=list(result.unplaced_parcel_ids),
            frm=ParcelStatus.RESERVED,
            to=ParcelStatus.PACKED,
        )
    return result.reserved
