"""A van holds one route at a time and a driver drives one route at a time (planning and start);
a re-plan after the fleet changed publishes what it plans; residents whose bank no route serves
see their parcel undelivered and are told."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import CompartmentSize, TemperatureClass
from app.windows.models import DeliveryWindow
from logistics import pipeline
from logistics.busy import LIVE
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus
from notifications import dispatch
from notifications.models import Message
from tests.logistics.conftest import World, fast_settings

LOCKERS = {TemperatureClass.CHILLED: {CompartmentSize.S: 4}}


def cutoff(world: World, db: Session, window: DeliveryWindow) -> pipeline.PipelineReport:
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    db.expire_all()
    return report


def second_window(world: World) -> DeliveryWindow:
    now = datetime.now(UTC).replace(microsecond=0)
    ready_by = now + timedelta(hours=8)
    return world.make.window(
        world.city,
        cutoff_in=timedelta(hours=-1),
        ready_by=ready_by,
        pickup_deadline=ready_by + timedelta(hours=24),
        local_date=world.window.local_date,
        slot_name="evening",
    )


def order_in(world: World, window: DeliveryWindow, hood: Any, **kw: Any) -> Any:
    first = world.window
    world.window = window
    try:
        return world.order(hood, [(world.chilled, 1)], confirmed=False, **kw)
    finally:
        world.window = first


def routes_of(db: Session, **where: Any) -> list[Route]:
    query = select(Route).where(Route.status.in_(LIVE))
    for name, value in where.items():
        query = query.where(getattr(Route, name) == value)
    return list(db.scalars(query.order_by(Route.planned_departure)))


def assert_no_overlap(routes: list[Route]) -> None:
    for earlier, later in zip(routes, routes[1:], strict=False):
        end = max(earlier.planned_return, earlier.eta_return)
        assert later.planned_departure >= end, (earlier.id, later.id)


def test_a_van_holds_one_route_at_a_time_across_windows(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    driver = world.driver()
    van = world.van(default_driver_id=driver.id)
    hood, _ = world.hood(lockers=LOCKERS)
    other, _ = world.hood(km_north=2.5, lockers=LOCKERS)
    world.order(hood, [(world.chilled, 1)], confirmed=False)
    later = second_window(world)
    order_in(world, later, other)
    cutoff(world, db, world.window)
    cutoff(world, db, later)

    routes = routes_of(db, vehicle_id=van.id)
    assert {r.window_id for r in routes} == {world.window.id, later.id}
    assert_no_overlap(routes)

    client = client_for(driver)
    first, second = routes
    assert client.post(f"/driver/routes/{first.id}/start").status_code == 200
    answer = client.post(f"/driver/routes/{second.id}/start")
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"][0]["type"] == "vehicle_busy"
    assert db.get(Route, second.id).status == RouteStatus.PUBLISHED  # type: ignore[union-attr]


def test_a_driver_drives_one_route_at_a_time(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    driver = world.driver()
    # Two small vans with the same driver; four stops need both vans' room if both could go.
    for _ in range(2):
        world.van(default_driver_id=driver.id, chilled_volume_ml=4_000)
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 2)], confirmed=False)
    cutoff(world, db, world.window)
    routes = routes_of(db, driver_id=driver.id)
    assert routes
    assert_no_overlap(routes)


def test_starting_a_route_while_the_driver_drives_another_is_refused(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    driver = world.driver()
    world.van(default_driver_id=driver.id)
    world.van(default_driver_id=driver.id)
    hood, _ = world.hood(lockers=LOCKERS)
    world.order(hood, [(world.chilled, 1)], confirmed=False)
    later = second_window(world)
    order_in(world, later, hood)
    cutoff(world, db, world.window)
    cutoff(world, db, later)
    first, second = routes_of(db, driver_id=driver.id)
    assert first.vehicle_id != second.vehicle_id or first.window_id != second.window_id
    client = client_for(driver)
    assert client.post(f"/driver/routes/{first.id}/start").status_code == 200
    answer = client.post(f"/driver/routes/{second.id}/start")
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"][0]["type"] in ("driver_busy", "vehicle_busy")


def test_a_second_van_of_the_same_driver_is_refused_as_driver_busy(world, db) -> None:  # type: ignore[no-untyped-def]
    from logistics import driver as driver_service
    from logistics.handover import DriverBusy

    driver = world.driver()
    vans = [world.van(default_driver_id=driver.id) for _ in range(2)]
    hood, _ = world.hood(lockers=LOCKERS)
    world.order(hood, [(world.chilled, 1)], confirmed=False)
    cutoff(world, db, world.window)
    [route] = routes_of(db, driver_id=driver.id)
    # An operator hands the other van's route to the same driver by hand.
    manual = Route(
        window_id=world.window.id,
        vehicle_id=next(v.id for v in vans if v.id != route.vehicle_id),
        depot_id=world.depot.id,
        driver_id=driver.id,
        status=RouteStatus.PUBLISHED,
        planned_departure=route.planned_departure,
        planned_return=route.planned_return,
        eta_return=route.eta_return,
    )
    db.add(manual)
    db.flush()
    driver_service.start(db_session=db, route=route)
    try:
        driver_service.start(db_session=db, route=manual)
    except DriverBusy as refused:
        assert refused.status_code == 409 and refused.extra["other_route_id"] == route.id
    else:
        raise AssertionError("one driver started two routes at once")


def test_replan_after_vans_were_added_publishes_and_unrouted_residents_are_told(
    world, db, client_for
) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers=LOCKERS)
    resident = world.resident(hood)
    world.order(hood, [(world.chilled, 1)], confirmed=False, resident=resident)
    report = cutoff(world, db, world.window)
    assert [u.reason_code for u in report.unassigned] == ["no_vehicle"]

    [parcel] = db.scalars(select(Parcel).where(Parcel.window_id == world.window.id))
    assert parcel.status == ParcelStatus.UNDELIVERED
    assert parcel.failure_reason == "not_routed:no_vehicle"
    mine = client_for(resident).get("/lockers/my-parcels")
    assert mine.status_code == 200, mine.text
    assert [p["status"] for p in mine.json()] == ["undelivered"]
    dispatch.consume(db_session=db)
    [told] = db.scalars(select(Message).where(Message.template == "parcel_not_routed"))
    assert told.resident_id == resident.id

    driver = world.driver()
    world.van(default_driver_id=driver.id)
    operator = client_for(world.operator())
    answer = operator.post(f"/windows/{world.window.id}/replan", json={"fleet_changed": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["routes"] == 1 and answer.json()["unassigned"] == []

    [shown] = client_for(driver).get("/driver/routes/today").json()
    assert shown["status"] == "published"
    assert [p["parcel_id"] for s in shown["stops"] for p in s["parcels"]] == [parcel.id]
    db.expire_all()
    assert db.get(Parcel, parcel.id).status == ParcelStatus.RESERVED  # type: ignore[union-attr]
    # Told once per window, however often it is re-planned.
    dispatch.consume(db_session=db)
    assert (
        len(db.scalars(select(Message).where(Message.template == "parcel_not_routed")).all()) == 1
    )
    local = datetime.fromisoformat(shown["planned_departure_local"])
    assert local.utcoffset() == datetime.now(ZoneInfo(world.city.timezone)).utcoffset()


def test_an_operator_cannot_give_a_driver_two_routes_at_once(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    busy_driver, other_driver = world.driver(), world.driver()
    # Two vans of 7 L, two drivers; four stops of 3 L need both vans at the same time.
    world.van(default_driver_id=busy_driver.id, chilled_volume_ml=7_000)
    world.van(default_driver_id=other_driver.id, chilled_volume_ml=7_000)
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 2)], confirmed=False)
    cutoff(world, db, world.window)
    theirs = routes_of(db, driver_id=other_driver.id)
    mine = routes_of(db, driver_id=busy_driver.id)
    assert theirs and mine
    operator = client_for(world.operator())
    answer = operator.put(f"/routes/{theirs[0].id}/driver", json={"driver_id": busy_driver.id})
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"][0]["type"] == "driver_busy"
    assert db.get(Route, theirs[0].id).driver_id == other_driver.id  # type: ignore[union-attr]
