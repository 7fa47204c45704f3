"""Planning on a small city: every stop served with ETAs before ready-by, or reported with why."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from logistics import packing, plan_problem, planning, reservation
from logistics.models import Parcel, Route, RouteStatus, RouteStop, UnassignedStop

T, S = TemperatureClass, CompartmentSize


def _prepare(db: Session, world) -> None:  # type: ignore[no-untyped-def]
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    reservation.reserve_window(db_session=db, window_id=world.window.id, commit=False)


def _plan(db: Session, world, settings, **kw):  # type: ignore[no-untyped-def]
    report = planning.plan_window(
        db_session=db,
        window_id=world.window.id,
        depart_after=kw.pop("depart_after", datetime.now(UTC)),
        settings=settings,
        **kw,
    )
    db.expire_all()
    return report


def test_small_city_all_stops_served_before_ready_by(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    world.van()
    hoods = [world.hood(km_north=n, km_east=n % 2) for n in (1.0, 2.0, 3.0, 4.5)]
    for hood, _ in hoods:
        world.order(hood, [(world.chilled, 2), (world.frozen, 1)])
        world.order(hood, [(world.ambient, 1)])
    _prepare(db, world)
    start = datetime.now(UTC)
    report = _plan(db, world, settings, depart_after=start)
    assert report.unassigned == []
    assert report.stops == 4
    assert report.parcels_routed == 12
    routes = list(db.scalars(select(Route).where(Route.window_id == world.window.id)))
    assert len(routes) == report.routes == 1  # one van is enough: vans first
    route = routes[0]
    assert route.status == RouteStatus.PLANNED
    stops = sorted(route.stops, key=lambda s: s.sequence)
    assert sorted(s.bank_id for s in stops) == sorted(b.id for _, b in hoods)
    assert [s.sequence for s in stops] == [1, 2, 3, 4]
    assert route.planned_departure >= start - timedelta(seconds=1)
    previous = route.planned_departure
    for stop in stops:
        assert stop.eta.tzinfo is not None
        assert stop.eta >= previous
        assert stop.etd <= world.window.ready_by
        assert stop.travel_s_from_prev > 0
        previous = stop.etd
    assert route.planned_return >= previous
    assert route.distance_m > 0
    unrouted = db.scalar(
        select(func.count())
        .select_from(Parcel)
        .where(Parcel.window_id == world.window.id)
        .where(Parcel.route_stop_id.is_(None))
    )
    assert unrouted == 0
    for parcel in db.scalars(select(Parcel).where(Parcel.window_id == world.window.id)):
        stop = db.get(RouteStop, parcel.route_stop_id)
        assert stop is not None and stop.bank_id == parcel.bank_id


def test_impossible_stop_is_reported_with_its_reason(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    near, _ = world.hood(km_north=2.0)
    far, far_bank = world.hood(km_north=400.0)  # 400 km: not reachable before ready-by
    world.order(near, [(world.chilled, 1)])
    world.order(far, [(world.chilled, 1)])
    _prepare(db, world)
    report = _plan(db, world, settings)
    assert [(u.bank_id, u.reason_code) for u in report.unassigned] == [(far_bank.id, "time_window")]
    stored = list(
        db.scalars(select(UnassignedStop).where(UnassignedStop.window_id == world.window.id))
    )
    assert [(u.bank_id, u.reason_code, u.parcel_count) for u in stored] == [
        (far_bank.id, "time_window", 1)
    ]
    assert "time window" in stored[0].reason
    events = [
        e
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "route.unassigned"))
        if e.payload["window_id"] == world.window.id
    ]
    assert len(events) == 1
    assert events[0].payload["bank_id"] == far_bank.id
    assert events[0].payload["reason_code"] == "time_window"
    parcel = db.scalar(
        select(Parcel)
        .where(Parcel.window_id == world.window.id)
        .where(Parcel.bank_id == far_bank.id)
    )
    assert parcel is not None and parcel.route_stop_id is None  # reported, not dropped
    assert report.routes == 1


def test_cold_chain_limit_is_the_van_setting_not_a_product_time_out(
    world, db: Session, settings
) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hood, bank = world.hood(km_north=25.0)  # 25 km x 1.3 at 25 km/h: 78 min away
    # 30 min is how long it may stay OUT of the freezer; the refrigerated van keeps it in.
    strict = world.make.product(world.city, temperature_class=T.FROZEN, max_minutes_out=30)
    world.order(hood, [(strict, 1)])
    _prepare(db, world)
    assert settings.cold_chain_minutes == 180  # the default
    assert plan_problem.cold_chain_limit_s(settings) == 180 * 60
    assert _plan(db, world, settings).unassigned == []  # 78 min < 180 min


def test_a_stricter_cold_chain_setting_reports_the_far_stop(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hood, bank = world.hood(km_north=25.0)  # 78 min away
    world.order(hood, [(world.frozen, 1)])
    _prepare(db, world)
    report = _plan(db, world, settings.model_copy(update={"cold_chain_minutes": 60}))
    assert [(u.bank_id, u.reason_code) for u in report.unassigned] == [(bank.id, "cold_chain")]


def test_ambient_only_stop_ignores_the_cold_chain_limit(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hood, _ = world.hood(km_north=25.0)
    world.order(hood, [(world.ambient, 1)])
    _prepare(db, world)
    report = _plan(db, world, settings.model_copy(update={"cold_chain_minutes": 30}))
    assert report.unassigned == [] and report.routes == 1


def test_a_bank_too_big_for_one_van_is_split_across_vans(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van(chilled_volume_ml=10_000)
    world.van(chilled_volume_ml=10_000)
    hood, bank = world.hood(lockers={T.CHILLED: {S.S: 10}})
    for _ in range(4):
        world.order(hood, [(world.chilled, 3)])  # 4.5 L each, 18 L in all
    _prepare(db, world)
    report = _plan(db, world, settings)
    assert report.unassigned == []
    assert report.stops == 2 and report.routes == 2
    stops = list(
        db.scalars(select(RouteStop).join(Route).where(Route.window_id == world.window.id))
    )
    assert {s.bank_id for s in stops} == {bank.id}


def test_no_fleet_reports_every_stop(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    hood, bank = world.hood()
    world.order(hood, [(world.chilled, 1)])
    _prepare(db, world)
    report = _plan(db, world, settings)
    assert [(u.bank_id, u.reason_code) for u in report.unassigned] == [(bank.id, "no_vehicle")]


def test_van_off_shift_is_not_used(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van(shift_start_local=time(0, 0), shift_end_local=time(0, 30))  # over before now
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    _prepare(db, world)
    report = _plan(db, world, settings)
    assert report.vehicles_available == 0
    assert report.unassigned[0].reason_code == "no_vehicle"


def test_ready_by_already_too_close(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    _prepare(db, world)
    late = world.window.ready_by - timedelta(seconds=30)
    report = _plan(db, world, settings, depart_after=late)
    assert report.unassigned[0].reason_code == "ready_by_passed"


def test_planning_twice_keeps_the_first_plan(world, db: Session, settings) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    _prepare(db, world)
    _plan(db, world, settings)
    again = _plan(db, world, settings)
    assert again.skipped
    assert (
        db.scalar(select(func.count()).select_from(Route).where(Route.window_id == world.window.id))
        == 1
    )
    assert (
        db.scalar(
            select(func.count())
            .select_from(RouteStop)
            .join(Route)
            .where(Route.window_id == world.window.id)
        )
        == 1
    )


def test_travel_source_follows_the_settings() -> None:
    import pytest
    from pydantic import ValidationError

    from logistics.settings import LogisticsSettings
    from logistics.solver.travel import GreatCircleTravel, OsrmTravel

    default = plan_problem.travel_source(LogisticsSettings(speed_kmh=30, detour_factor=1.4))
    assert default == GreatCircleTravel(speed_kmh=30, detour_factor=1.4)
    osrm = plan_problem.travel_source(
        LogisticsSettings(travel_source="osrm", osrm_url="http://osrm.local:5000")
    )
    assert osrm == OsrmTravel("http://osrm.local:5000")
    with pytest.raises(ValidationError):
        LogisticsSettings(travel_source="osrm")


def test_logistics_endpoints_are_in_the_openapi_schema(anon_client) -> None:  # type: ignore[no-untyped-def]
    paths = anon_client.get("/openapi.json").json()["paths"]
    for path in (
        "/windows/{window_id}/cutoff",
        "/windows/{window_id}/replan",
        "/driver/routes/today",
        "/driver/routes/{route_id}/stops/{stop_id}/arrive",
        "/driver/routes/{route_id}/stops/{stop_id}/depart",
        "/routes/{route_id}.geojson",
        "/neighborhoods/{neighborhood_id}/locker-capacity",
        "/vehicles",
    ):
        assert path in paths, path
