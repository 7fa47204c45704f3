"""Operators' hand edits: move a stop to another van (and every refusal), re-dispatch a route."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import CompartmentSize, TemperatureClass
from app.core.errors import InvalidInput, NotFound
from app.events.models import OutboxEvent
from logistics import dispatch_edit, lifecycle, pipeline
from logistics import driver as driver_service
from logistics.handover import VehicleBusy
from logistics.models import Parcel, Route, RouteStatus, StopStatus
from tests.logistics.conftest import World, fast_settings

T, S = TemperatureClass, CompartmentSize
LOCKERS = {T.CHILLED: {S.S: 3}, T.AMBIENT: {S.M: 2}}


def cut_off(world: World, db: Session) -> dict[int, Route]:
    """Run the window's cut-off in the test's session; its routes by van."""
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    db.expire_all()
    routes = db.scalars(select(Route).where(Route.window_id == world.window.id))
    return {r.vehicle_id: r for r in routes}


def _city(world: World, vans: int = 2, units: int = 2) -> list[int]:
    """Four stops of chilled parcels (1.5 L a unit); vans of 10 L chilled: two are used."""
    ids = [world.van(chilled_volume_ml=10_000).id for _ in range(vans)]
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, units)], confirmed=False)
    return ids


def _move(db: Session, world: World, stop_id: int, vehicle_id: int) -> dispatch_edit.StopMove:
    move = dispatch_edit.move_stop(
        db_session=db,
        stop_id=stop_id,
        to_vehicle_id=vehicle_id,
        city_id=world.city.id,
        settings=fast_settings(),
    )
    db.flush()
    db.expire_all()
    return move


def test_a_stop_moves_to_another_van_and_both_routes_are_resequenced(
    db: Session, world: World
) -> None:
    van_a, van_b = _city(world)
    routes = cut_off(world, db)
    assert set(routes) == {van_a, van_b}
    source, target = sorted(routes.values(), key=lambda r: -len(r.stops))
    van_b = target.vehicle_id
    moving = source.stops[0]
    parcels = set(db.scalars(select(Parcel.id).where(Parcel.route_stop_id == moving.id)))
    before = len(target.stops)

    move = _move(db, world, moving.id, van_b)

    source, target = db.get(Route, source.id), db.get(Route, target.id)
    assert source is not None and target is not None
    assert move.to_route_id == target.id
    assert moving.id in {s.id for s in target.stops}
    assert len(target.stops) == before + 1
    for route in (source, target):
        stops = sorted(route.stops, key=lambda s: s.sequence)
        assert [s.sequence for s in stops] == list(range(1, len(stops) + 1))
        clock = route.planned_departure
        for stop in stops:
            assert stop.eta == clock + timedelta(seconds=stop.travel_s_from_prev)
            clock = stop.etd
        assert route.eta_return == clock + timedelta(seconds=route.return_travel_s)
    assert set(db.scalars(select(Parcel.id).where(Parcel.route_stop_id == moving.id))) == parcels
    assert db.scalar(select(OutboxEvent).where(OutboxEvent.kind == "route.stop_moved"))


def test_the_last_stop_leaving_cancels_its_route_and_a_spare_van_gets_a_new_one(
    db: Session, world: World
) -> None:
    van_a, van_b, spare = _city(world, vans=3)
    routes = cut_off(world, db)
    used = [v for v in (van_a, van_b, spare) if v in routes]
    free = next(v for v in (van_a, van_b, spare) if v not in routes)
    source = routes[used[0]]
    stop_ids = [s.id for s in sorted(source.stops, key=lambda s: s.sequence)]
    for stop_id in stop_ids:
        _move(db, world, stop_id, free)
    source = db.get(Route, source.id)
    assert source is not None and source.status == RouteStatus.CANCELLED
    fresh = db.scalar(
        select(Route).where(Route.window_id == world.window.id, Route.vehicle_id == free)
    )
    assert fresh is not None and fresh.status == RouteStatus.PUBLISHED
    assert sorted(s.id for s in fresh.stops) == sorted(stop_ids)


def test_a_stop_already_reached_cannot_move(db: Session, world: World) -> None:
    van_a, van_b = _city(world)
    routes = cut_off(world, db)
    stop = routes[van_a].stops[0]
    lifecycle.transition(stop, StopStatus.ARRIVED)
    db.flush()
    with pytest.raises(dispatch_edit.StopDone) as refused:
        _move(db, world, stop.id, van_b)
    assert refused.value.code == "stop_done" and refused.value.field == "stop_id"


def test_parcels_already_on_the_road_cannot_move(db: Session, world: World) -> None:
    van_a, van_b = _city(world)
    routes = cut_off(world, db)
    driver_service.start(db_session=db, route=routes[van_a])
    db.flush()
    with pytest.raises(dispatch_edit.ParcelsLoaded):
        _move(db, world, routes[van_a].stops[-1].id, van_b)


def test_a_van_on_the_road_is_busy(db: Session, world: World) -> None:
    van_a, van_b = _city(world)
    routes = cut_off(world, db)
    driver_service.start(db_session=db, route=routes[van_b])
    db.flush()
    with pytest.raises(VehicleBusy) as refused:
        _move(db, world, routes[van_a].stops[0].id, van_b)
    assert refused.value.field == "vehicle_id"


def test_a_van_without_room_refuses_the_stop(db: Session, world: World) -> None:
    van_a, van_b = _city(world, units=3)
    routes = cut_off(world, db)
    with pytest.raises(dispatch_edit.OverCapacity) as refused:
        # Each van carries 9 L of its 10 L: one more stop of 4.5 L does not fit.
        for stop in list(routes[van_a].stops):
            _move(db, world, stop.id, van_b)
    assert refused.value.code == "over_capacity"


def test_a_van_without_the_zone_refuses_the_stop(db: Session, world: World) -> None:
    van_a, _ = _city(world)
    ambient_only = world.van(chilled_volume_ml=0, chilled_weight_g=0, frozen_volume_ml=0)
    routes = cut_off(world, db)
    with pytest.raises(dispatch_edit.CannotCarryClass) as refused:
        _move(db, world, routes[van_a].stops[0].id, ambient_only.id)
    assert refused.value.code == "temperature_class"


def test_the_same_van_or_a_stranger_stop_is_refused(db: Session, world: World) -> None:
    van_a, _ = _city(world)
    routes = cut_off(world, db)
    stop = routes[van_a].stops[0]
    with pytest.raises(InvalidInput):
        _move(db, world, stop.id, van_a)
    with pytest.raises(NotFound):
        dispatch_edit.move_stop(db_session=db, stop_id=stop.id, to_vehicle_id=van_a, city_id=-1)


def test_redispatch_publishes_and_tells_the_driver(db: Session, world: World) -> None:
    van_a, _ = _city(world)
    routes = cut_off(world, db)
    route = routes[van_a]
    dispatch_edit.redispatch(db_session=db, route_id=route.id, city_id=world.city.id)
    db.flush()
    event = db.scalar(select(OutboxEvent).where(OutboxEvent.kind == "route.dispatched"))
    assert event is not None and event.payload["route_id"] == route.id
    assert [s["stop_id"] for s in event.payload["stops"]] == [
        s.id for s in sorted(route.stops, key=lambda s: s.sequence)
    ]
    route.status = RouteStatus.COMPLETED
    with pytest.raises(lifecycle.IllegalTransition):
        dispatch_edit.redispatch(db_session=db, route_id=route.id, city_id=world.city.id)
