"""Logistics endpoints: the fleet, the cut-off and re-plans (operators), routes (drivers),
route GeoJSON, and locker capacity per neighborhood and window (residents and operators)."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from app.auth.deps import CurrentCaller, CurrentOperator, require_staff
from app.cities import queries as city_queries
from app.core.celery_app import celery_app
from app.core.db import SessionDep, utcnow
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.limits import DbId
from app.neighborhoods import queries as neighborhood_queries
from app.staff import queries as staff_queries
from app.staff.queries import StaffAccount, StaffRole
from app.windows import queries as window_queries
from logistics import busy, cutoff_steps, pipeline
from logistics import driver as driver_service
from logistics.errors import NeighborhoodNotFound, RouteNotFound, VehicleNotFound, WindowNotFound
from logistics.locker_capacity import capacity_for
from logistics.models import Route, Vehicle
from logistics.plan_schemas import LockerCapacityRead, PipelineRunRead, ReplanRead, ReplanRequest
from logistics.replan import replan_window, validate_replan
from logistics.schemas import (
    ParcelFailRequest,
    RouteDriverUpdate,
    RouteRead,
    VehicleCreate,
    VehicleRead,
    VehicleUpdate,
)
from logistics.settings import get_logistics_settings
from logistics.solve_outside import plan_without_holding

router = APIRouter()
CurrentStaff = Annotated[StaffAccount, Depends(require_staff("driver", "operator"))]


class DepotNotFound(NotFound):
    """No depot with this id in the city."""

    case = "depot_not_found"


class DriverNotFound(NotFound):
    """No driver with this id in the city."""

    case = "driver_not_found"


class VehicleCodeTaken(Conflict):
    """Another van already has this code."""

    case = "vehicle_code_taken"


class CutoffNotRun(NotFound):
    """The window's cut-off has not run: there is no report yet."""

    case = "cutoff_not_run"


class StaffAccountDisabled(Forbidden):
    """The staff token's account is disabled or gone."""

    case = "staff_account_disabled"


class RoleRequired(Forbidden):
    """The caller's role may not use this endpoint."""

    case = "role_required"


def _window_in_city(db: Session, window_id: int, city_id: int) -> None:
    window = window_queries.window_view(db, window_id)
    if window is None or window.city_id != city_id:
        raise WindowNotFound(f"delivery window {window_id} not found", field="window_id")


def _session_factory(db: Session) -> sessionmaker[Session]:
    """Sessions on the request's database for flows that commit step by step."""
    return sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def _depot_in_city(db: Session, depot_id: int, city_id: int) -> None:
    depot = city_queries.depot_place(db, depot_id)
    if depot is None or depot.city_id != city_id:
        raise DepotNotFound(f"depot {depot_id} not found", field="depot_id")


def _driver_in_city(db: Session, driver_id: int | None, city_id: int, field: str) -> None:
    if driver_id is None:
        return
    user = staff_queries.staff_account(db, driver_id)
    if user is None or user.city_id != city_id or user.role != StaffRole.DRIVER:
        raise DriverNotFound(f"driver {driver_id} not found", field=field)


# --- fleet -----------------------------------------------------------------------------------


@router.get("/vehicles", tags=["operator"], summary="The city's van fleet")
def list_vehicles(db: SessionDep, operator: CurrentOperator) -> list[VehicleRead]:
    vans = db.scalars(
        select(Vehicle).where(Vehicle.city_id == operator.city_id).order_by(Vehicle.id)
    )
    return [VehicleRead.of(v) for v in vans]


@router.post(
    "/vehicles", tags=["operator"], status_code=status.HTTP_201_CREATED, summary="Add a van"
)
def create_vehicle(
    db: SessionDep, operator: CurrentOperator, vehicle_in: VehicleCreate
) -> VehicleRead:
    _depot_in_city(db, vehicle_in.depot_id, operator.city_id)
    _driver_in_city(db, vehicle_in.default_driver_id, operator.city_id, "default_driver_id")
    if db.scalar(select(Vehicle.id).where(Vehicle.code == vehicle_in.code)) is not None:
        raise VehicleCodeTaken(f"a van with code {vehicle_in.code!r} exists", field="code")
    vehicle = Vehicle(city_id=operator.city_id, **vehicle_in.model_dump())
    db.add(vehicle)
    db.commit()
    return VehicleRead.of(vehicle)


@router.patch("/vehicles/{vehicle_id}", tags=["operator"], summary="Change a van")
def update_vehicle(
    db: SessionDep, operator: CurrentOperator, vehicle_id: int, vehicle_in: VehicleUpdate
) -> VehicleRead:
    vehicle = db.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.city_id != operator.city_id:
        raise VehicleNotFound(f"vehicle {vehicle_id} not found", field="vehicle_id")
    changes = vehicle_in.model_dump(exclude_unset=True)
    if "depot_id" in changes:
        _depot_in_city(db, changes["depot_id"], operator.city_id)
    if "default_driver_id" in changes:
        _driver_in_city(db, changes["default_driver_id"], operator.city_id, "default_driver_id")
    for key, value in changes.items():
        setattr(vehicle, key, value)
    db.commit()
    return VehicleRead.of(vehicle)


# --- cut-off and re-plan ---------------------------------------------------------------------


@router.post(
    "/windows/{window_id}/cutoff",
    tags=["operator"],
    summary="Run (or resume) the window's cut-off: close, pack, reserve, route, publish",
    responses={202: {"description": "Queued on the routing workers"}},
)
def run_cutoff(
    db: SessionDep,
    operator: CurrentOperator,
    window_id: int,
    response: Response,
    time_limit_s: Annotated[float | None, Query(gt=0, le=600)] = None,
) -> PipelineRunRead:
    _window_in_city(db, window_id, operator.city_id)
    if celery_app.conf.task_always_eager:
        # End the request's transaction first: on SQLite it holds the write lock (BEGIN
        # IMMEDIATE) that the pipeline's own sessions would wait on until "database is locked".
        db.commit()
        report = pipeline.run_cutoff(
            session_factory=_session_factory(db), window_id=window_id, time_limit_s=time_limit_s
        )
        return PipelineRunRead.of(report)
    from logistics.tasks import run_cutoff_task

    pipeline.ensure_run(db_session=db, window_id=window_id)
    db.commit()
    run_cutoff_task.delay(window_id, time_limit_s)
    queued = pipeline.get_report(db_session=db, window_id=window_id)
    assert queued is not None
    response.status_code = status.HTTP_202_ACCEPTED
    return PipelineRunRead.of(queued)


@router.get(
    "/windows/{window_id}/cutoff",
    tags=["operator"],
    summary="The cut-off's status, step timings and unassigned stops",
)
def get_cutoff(db: SessionDep, operator: CurrentOperator, window_id: int) -> PipelineRunRead:
    _window_in_city(db, window_id, operator.city_id)
    report = pipeline.get_report(db_session=db, window_id=window_id)
    if report is None:
        raise CutoffNotRun("the cut-off of this window has not run", field="window_id")
    return PipelineRunRead.of(report)


@router.post(
    "/windows/{window_id}/replan",
    tags=["operator"],
    summary="Re-plan after a van or a locker bank dropped out (served stops stay served)",
)
def replan(
    db: SessionDep, operator: CurrentOperator, window_id: int, replan_in: ReplanRequest
) -> ReplanRead:
    _window_in_city(db, window_id, operator.city_id)
    validate_replan(replan_in.vehicle_id_out, replan_in.bank_id_out, replan_in.fleet_changed)
    settings = get_logistics_settings()
    depart_after, now = cutoff_steps.depart_after(db, window_id, settings), utcnow()
    report = plan_without_holding(
        db,
        lambda solver: replan_window(
            db_session=db,
            window_id=window_id,
            vehicle_id_out=replan_in.vehicle_id_out,
            bank_id_out=replan_in.bank_id_out,
            now=now,
            depart_after=depart_after,
            settings=settings,
            solver=solver,
        ),
        settings=settings,
        time_limit_s=settings.replan_time_limit_s,
    )
    db.commit()
    return ReplanRead.of(window_id, report)


@router.get("/windows/{window_id}/routes", tags=["operator"], summary="The window's routes")
def window_routes(db: SessionDep, operator: CurrentOperator, window_id: int) -> list[RouteRead]:
    _window_in_city(db, window_id, operator.city_id)
    routes = db.scalars(
        select(Route)
        .where(Route.window_id == window_id)
        .options(selectinload(Route.stops))
        .order_by(Route.id)
    )
    return [RouteRead.of(driver_service.view(db_session=db, route=r)) for r in routes]


@router.put("/routes/{route_id}/driver", tags=["operator"], summary="Assign a route's driver")
def assign_driver(
    db: SessionDep, operator: CurrentOperator, route_id: int, assign_in: RouteDriverUpdate
) -> RouteRead:
    route = driver_service.get_for(db_session=db, route_id=route_id, staff=operator)
    _driver_in_city(db, assign_in.driver_id, operator.city_id, "driver_id")
    busy.ensure_driver_free(db_session=db, route=route, driver_id=assign_in.driver_id)
    route.driver_id = assign_in.driver_id
    db.commit()
    return RouteRead.of(driver_service.view(db_session=db, route=route))


# --- drivers ---------------------------------------------------------------------------------


@router.get(
    "/driver/routes/today",
    tags=["driver"],
    summary="Today's routes: ordered stops, ETAs (UTC and city time), parcels, navigation links",
)
def routes_today(
    db: SessionDep,
    staff: CurrentStaff,
    driver_id: Annotated[DbId | None, Query(description="Operators: one driver's routes")] = None,
) -> list[RouteRead]:
    routes = driver_service.routes_today(db_session=db, staff=staff, driver_id=driver_id)
    return [RouteRead.of(driver_service.view(db_session=db, route=r)) for r in routes]


@router.get("/driver/routes/{route_id}", tags=["driver"], summary="One route")
def get_route(db: SessionDep, staff: CurrentStaff, route_id: int) -> RouteRead:
    route = driver_service.get_for(db_session=db, route_id=route_id, staff=staff)
    return RouteRead.of(driver_service.view(db_session=db, route=route))


def _drivable(db: Session, staff: StaffAccount, route_id: int) -> Route:
    route = driver_service.get_for(db_session=db, route_id=route_id, staff=staff)
    if staff.role == StaffRole.DRIVER and route.driver_id != staff.id:
        raise RouteNotFound(f"route {route_id} not found", field="route_id")
    return route


@router.post(
    "/driver/routes/{route_id}/start",
    tags=["driver"],
    summary="Leave the depot: parcels loaded (idempotent)",
    responses={409: {"description": "The van or the driver is on another route (busy)"}},
)
def start_route(db: SessionDep, staff: CurrentStaff, route_id: int) -> RouteRead:
    route = _drivable(db, staff, route_id)
    driver_service.start(db_session=db, route=route)
    db.commit()
    return RouteRead.of(driver_service.view(db_session=db, route=route))


@router.post(
    "/driver/routes/{route_id}/stops/{stop_id}/arrive",
    tags=["driver"],
    summary="Arrived at a stop (idempotent); later ETAs update",
)
def arrive(db: SessionDep, staff: CurrentStaff, route_id: int, stop_id: int) -> RouteRead:
    route = _drivable(db, staff, route_id)
    driver_service.arrive(db_session=db, route=route, stop_id=stop_id)
    db.commit()
    return RouteRead.of(driver_service.view(db_session=db, route=route))


@router.post(
    "/driver/routes/{route_id}/stops/{stop_id}/parcels/{parcel_id}/fail",
    tags=["driver"],
    summary="A parcel of the current stop could not be deposited: undelivered, with the reason",
    responses={409: {"description": "Not at this stop (not_at_stop), or parcel not aboard"}},
)
def fail_parcel(
    db: SessionDep,
    staff: CurrentStaff,
    route_id: int,
    stop_id: int,
    parcel_id: int,
    fail_in: ParcelFailRequest,
) -> RouteRead:
    route = _drivable(db, staff, route_id)
    reason = fail_in.reason.value + (f": {fail_in.note}" if fail_in.note else "")
    driver_service.fail_parcel(
        db_session=db, route=route, stop_id=stop_id, parcel_id=parcel_id, reason=reason
    )
    db.commit()
    return RouteRead.of(driver_service.view(db_session=db, route=route))


@router.post(
    "/driver/routes/{route_id}/stops/{stop_id}/depart",
    tags=["driver"],
    summary="Leaving a stop once its parcels are deposited or marked failed (idempotent)",
    responses={409: {"description": "Not arrived, or parcels not handed over"}},
)
def depart(db: SessionDep, staff: CurrentStaff, route_id: int, stop_id: int) -> RouteRead:
    route = _drivable(db, staff, route_id)
    driver_service.depart(db_session=db, route=route, stop_id=stop_id)
    db.commit()
    return RouteRead.of(driver_service.view(db_session=db, route=route))


@router.get(
    "/routes/{route_id}.geojson",
    tags=["driver"],
    summary="The route as GeoJSON: a LineString and its stops as Points",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def route_geojson(db: SessionDep, staff: CurrentStaff, route_id: int) -> Response:
    route = driver_service.get_for(db_session=db, route_id=route_id, staff=staff)
    body: dict[str, Any] = driver_service.geojson(db_session=db, route=route)
    return Response(json.dumps(body), media_type="application/geo+json")


# --- residents and operators: locker room before the cut-off --------------------------------


@router.get(
    "/neighborhoods/{neighborhood_id}/locker-capacity",
    tags=["resident"],
    summary="Whether the neighborhood's lockers still have room for a window, per zone",
)
def locker_capacity(
    db: SessionDep,
    caller: CurrentCaller,
    neighborhood_id: int,
    window_id: Annotated[DbId, Query(description="The delivery window")],
) -> LockerCapacityRead:
    hood = neighborhood_queries.neighborhood_standing(db, neighborhood_id)
    if caller.principal.role == "resident":
        resident = caller.resident
        if resident is None or hood is None or resident.neighborhood_id != neighborhood_id:
            raise NeighborhoodNotFound(
                f"neighborhood {neighborhood_id} not found", field="neighborhood_id"
            )
    elif caller.principal.role == "operator":
        staff = caller.staff
        if staff is None or not staff.active:
            raise StaffAccountDisabled("account disabled or unknown", field="authorization")
        if hood is None or hood.city_id != staff.city_id:
            raise NeighborhoodNotFound(
                f"neighborhood {neighborhood_id} not found", field="neighborhood_id"
            )
    else:
        raise RoleRequired("requires role resident or operator", field="authorization")
    info = capacity_for(
        db_session=db,
        neighborhood_id=neighborhood_id,
        window_id=window_id,
        fill_factor=get_logistics_settings().fill_factor,
    )
    return LockerCapacityRead.of(neighborhood_id, window_id, info)
