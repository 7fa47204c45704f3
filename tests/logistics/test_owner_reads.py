"""The routes, vans and pipeline reads the operators' pages use, after a real cut-off."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from logistics import route_queries
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, UnassignedStop
from tests.factories import Factory
from tests.logistics.conftest import World
from tests.logistics.test_dispatch_edit import cut_off

LOCKERS = {TemperatureClass.CHILLED: {CompartmentSize.S: 3}}


def _routed_city(make: Factory, db: Session) -> tuple[World, dict[int, Route]]:
    world = World(make)
    for _ in range(2):
        world.van(chilled_volume_ml=10_000)
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 2)], confirmed=False)
    return world, cut_off(world, db)


def test_routes_stops_and_vans_read_as_values(make: Factory, db: Session) -> None:
    world, routes = _routed_city(make, db)
    window_id = world.window.id
    assert route_queries.window_ids_with_routes(db, [window_id, 999999]) == {window_id}
    rows = db.execute(route_queries.routes_of_window_query(window_id)).all()
    assert sorted(row.id for row in rows) == sorted(r.id for r in routes.values())
    assert {row.van_code for row in rows} <= {
        code for _, code in route_queries.active_van_codes(db, world.city.id)
    }
    stops = route_queries.stops_of_routes_not_cancelled(db, [row.id for row in rows])
    assert len(stops) == 4 and all(s.status == route_queries.StopStatus.PENDING for s in stops)
    steps = route_queries.pipeline_steps_of_windows(db, [window_id])
    assert [name for _, name, _ in steps][:2] == ["close", "pack"]
    assert all(status == route_queries.StepStatus.DONE for *_, status in steps)
    counts = route_queries.route_status_counts_of_windows(db, [window_id])
    assert sum(n for *_, n in counts) == len(routes)
    assert route_queries.open_unassigned_stops(db, window_id) == []
    db.add(
        UnassignedStop(
            window_id=window_id,
            bank_id=stops[0].bank_id,
            reason_code="no_van",
            reason="full",
            parcel_count=2,
        )
    )
    db.flush()
    assert [u.reason_code for u in route_queries.open_unassigned_stops(db, window_id)] == ["no_van"]


def test_late_and_alarmed_routes_carry_their_city(make: Factory, db: Session) -> None:
    world, routes = _routed_city(make, db)
    route = next(iter(routes.values()))
    route.status = RouteStatus.PUBLISHED
    first = db.scalars(
        select(RouteStop).where(RouteStop.route_id == route.id).order_by(RouteStop.sequence)
    ).first()
    assert first is not None
    first.eta = first.planned_arrival + timedelta(minutes=20)
    db.flush()
    pending = route_queries.pending_stops_of_live_routes(db, [world.window.id])
    mine = [s for s in pending if s.route_id == route.id]
    assert mine and mine[0].city_id == world.city.id and mine[0].window_id == world.window.id
    assert mine[0].eta - mine[0].planned_arrival == timedelta(minutes=20)
    route.status = RouteStatus.COMPLETED_WITH_ALARM
    aboard = list(
        db.scalars(
            select(Parcel)
            .join(RouteStop, RouteStop.id == Parcel.route_stop_id)
            .where(RouteStop.route_id == route.id)
        )
    )
    assert aboard
    for parcel in aboard:
        parcel.status = ParcelStatus.UNDELIVERED
    db.flush()
    ended = [
        r for r in route_queries.routes_ended_with_parcels_aboard(db) if r.route_id == route.id
    ]
    assert [(r.city_id, r.parcels) for r in ended] == [(world.city.id, len(aboard))]
