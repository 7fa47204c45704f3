"""Driver API: own routes only, ordered stops with ETAs and parcels, progress, ETAs, GeoJSON."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import CompartmentSize, TemperatureClass
from app.orders.models import Order, OrderStatus
from logistics import driver as driver_service
from logistics import lifecycle, packing, pipeline, planning, reservation
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, StopStatus
from tests.logistics.conftest import World, fast_settings

LOCKERS = {
    TemperatureClass.CHILLED: {CompartmentSize.S: 4},
    TemperatureClass.FROZEN: {CompartmentSize.S: 2},
}


def _published(world: World, db: Session, *, hoods: int = 3) -> Route:
    """A published one-van route over `hoods` neighborhoods, driven by a fresh driver."""
    driver = world.driver()
    world.van(default_driver_id=driver.id)
    for n in range(hoods):
        hood, _ = world.hood(km_north=1.0 + 1.5 * n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 1), (world.frozen, 1)], confirmed=False)
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    db.expire_all()
    route = db.scalar(select(Route).where(Route.window_id == world.window.id))
    assert route is not None and route.driver_id == driver.id
    world.route_driver = driver  # type: ignore[attr-defined]
    return route


def deposited(db: Session, stop: RouteStop) -> None:
    """The locker reported every parcel of the stop in its compartment."""
    for parcel in db.scalars(select(Parcel).where(Parcel.route_stop_id == stop.id)):
        lifecycle.transition(parcel, ParcelStatus.READY_FOR_PICKUP)
    db.flush()


def test_driver_sees_todays_route_with_stops_parcels_and_links(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db)
    answer = client_for(world.route_driver).get("/driver/routes/today")
    assert answer.status_code == 200, answer.text
    [body] = answer.json()
    assert body["id"] == route.id and body["status"] == "published"
    stops = body["stops"]
    assert [s["sequence"] for s in stops] == [1, 2, 3]
    tz = ZoneInfo(world.city.timezone)
    for stop in stops:
        eta = datetime.fromisoformat(stop["eta"])
        local = datetime.fromisoformat(stop["eta_local"])
        assert eta == local
        assert local.utcoffset() == eta.astimezone(tz).utcoffset()
        assert eta.utcoffset() == timedelta(0)
        assert stop["navigation_url"] == (
            "https://www.google.com/maps/dir/?api=1&destination="
            f"{stop['lat']:.6f},{stop['lon']:.6f}"
        )
        assert len(stop["parcels"]) == 2
        for parcel in stop["parcels"]:
            assert parcel["compartment_label"]
            stored = db.get(Parcel, parcel["parcel_id"])
            assert stored.bank_id == stop["bank_id"]
    etas = [datetime.fromisoformat(s["eta"]) for s in stops]
    assert etas == sorted(etas)


def test_other_drivers_and_residents_cannot_see_the_route(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=1)
    stop_id = route.stops[0].id
    other = client_for(world.driver())
    assert other.get("/driver/routes/today").json() == []
    assert other.get(f"/driver/routes/{route.id}").status_code == 404
    assert other.post(f"/driver/routes/{route.id}/stops/{stop_id}/arrive").status_code == 404
    assert other.get(f"/routes/{route.id}.geojson").status_code == 404
    hood = world.make.neighborhood(world.city)
    resident = client_for(world.resident(hood))
    assert resident.get("/driver/routes/today").status_code == 403
    assert resident.get(f"/driver/routes/{route.id}").status_code == 403
    assert resident.post(f"/driver/routes/{route.id}/stops/{stop_id}/depart").status_code == 403
    assert resident.get(f"/routes/{route.id}.geojson").status_code == 403
    operator = client_for(world.operator())
    assert operator.get(f"/driver/routes/{route.id}").status_code == 200
    assert [r["id"] for r in operator.get("/driver/routes/today").json()] == [route.id]
    stranger = client_for(world.make.operator(city=world.make.city()))
    assert stranger.get(f"/driver/routes/{route.id}").status_code == 404


def test_unpublished_routes_are_not_shown_to_drivers(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    driver = world.driver()
    world.van(default_driver_id=driver.id)
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    reservation.reserve_window(db_session=db, window_id=world.window.id, commit=False)
    planning.plan_window(db_session=db, window_id=world.window.id, settings=fast_settings())
    route = db.scalar(select(Route).where(Route.window_id == world.window.id))
    assert route is not None and route.status == RouteStatus.PLANNED
    client = client_for(driver)
    assert client.get("/driver/routes/today").json() == []
    assert client.get(f"/driver/routes/{route.id}").status_code == 404


def test_arrive_and_depart_are_idempotent_and_stored(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    client = client_for(world.route_driver)
    first = sorted(route.stops, key=lambda s: s.sequence)[0]
    url = f"/driver/routes/{route.id}/stops/{first.id}"
    arrived = client.post(f"{url}/arrive")
    assert arrived.status_code == 200, arrived.text
    body = arrived.json()
    assert body["status"] == "in_progress"
    at = body["stops"][0]["arrived_at"]
    assert at is not None
    again = client.post(f"{url}/arrive").json()
    assert again["stops"][0]["arrived_at"] == at
    deposited(db, first)
    departed = client.post(f"{url}/depart").json()
    assert departed["stops"][0]["status"] == "served"
    left = departed["stops"][0]["departed_at"]
    assert client.post(f"{url}/depart").json()["stops"][0]["departed_at"] == left
    db.expire_all()
    stop = next(s for s in db.get(Route, route.id).stops if s.id == first.id)  # type: ignore[union-attr]
    assert stop.status == StopStatus.SERVED and stop.arrived_at and stop.departed_at
    # Leaving the depot loaded the route's parcels and sent their orders out for delivery.
    assert set(db.scalars(select(Parcel.status).where(Parcel.window_id == world.window.id))) == {
        ParcelStatus.LOADED,
        ParcelStatus.READY_FOR_PICKUP,
    }
    assert set(db.scalars(select(Order.status).where(Order.window_id == world.window.id))) == {
        OrderStatus.OUT_FOR_DELIVERY
    }
    assert client.post(f"/driver/routes/{route.id}/stops/999999/arrive").status_code == 404


def test_later_etas_follow_actual_progress(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=3)
    stops = sorted(route.stops, key=lambda s: s.sequence)
    planned = [s.eta for s in stops]
    start = route.planned_departure
    driver_service.start(db_session=db, route=route, now=start)
    arrived = stops[0].eta
    driver_service.arrive(db_session=db, route=route, stop_id=stops[0].id, now=arrived)
    late = arrived + timedelta(minutes=40)
    deposited(db, stops[0])
    driver_service.depart(db_session=db, route=route, stop_id=stops[0].id, now=late)
    second, third = stops[1], stops[2]
    assert second.eta == late + timedelta(seconds=second.travel_s_from_prev)
    assert second.eta > planned[1] + timedelta(minutes=30)
    assert third.eta == second.etd + timedelta(seconds=third.travel_s_from_prev)
    assert route.eta_return == third.etd + timedelta(seconds=route.return_travel_s)
    # Arriving early at the next stop pulls the ones after it forward again.
    early = second.eta - timedelta(minutes=10)
    driver_service.arrive(db_session=db, route=route, stop_id=second.id, now=early)
    assert second.eta == early
    assert third.eta == max(early + timedelta(seconds=second.service_s), early) + timedelta(
        seconds=third.travel_s_from_prev
    )
    deposited(db, second)
    driver_service.depart(
        db_session=db, route=route, stop_id=second.id, now=early + timedelta(minutes=5)
    )
    driver_service.arrive(
        db_session=db, route=route, stop_id=third.id, now=early + timedelta(minutes=15)
    )
    deposited(db, third)
    driver_service.depart(
        db_session=db, route=route, stop_id=third.id, now=early + timedelta(minutes=20)
    )
    assert route.status == RouteStatus.COMPLETED


def test_geojson_of_a_route(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    for client in (client_for(world.route_driver), client_for(world.operator())):
        answer = client.get(f"/routes/{route.id}.geojson")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/geo+json")
        body = answer.json()
        assert body["type"] == "FeatureCollection"
        line, *points = body["features"]
        assert line["geometry"]["type"] == "LineString"
        coords = line["geometry"]["coordinates"]
        depot = [world.depot.lon, world.depot.lat]
        assert coords[0] == coords[-1] == depot
        assert len(coords) == 4  # depot, two stops, depot
        assert [p["geometry"]["type"] for p in points] == ["Point"] * 3
        assert points[0]["properties"]["kind"] == "depot"
        assert [p["properties"]["sequence"] for p in points[1:]] == [1, 2]
        assert [p["geometry"]["coordinates"] for p in points[1:]] == coords[1:-1]
        for lon, lat in coords:
            assert 121 < lon < 122 and 31 < lat < 32
