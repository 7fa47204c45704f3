"""The seams between driver, lockers and residents, each an illegal move refused or told:
deposit only at the arrived stop; depart only with every parcel deposited or failed; a route
with parcels aboard completes with an alarm and the residents are told."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from lockers import banks, deposit
from logistics import driver as driver_service
from logistics import handover, lifecycle, pipeline
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop, StopStatus
from notifications import dispatch
from notifications.models import Message
from tests.logistics.conftest import World, fast_settings

LOCKERS = {TemperatureClass.CHILLED: {CompartmentSize.S: 4}}


def cutoff(world: World, db: Session) -> None:
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    db.expire_all()


def published_route(world: World, db: Session, *, hoods: int = 2, per_hood: int = 2) -> Route:
    """One van, one driver, `hoods` stops of `per_hood` chilled parcels each, published."""
    driver = world.driver()
    world.van(default_driver_id=driver.id)
    for n in range(hoods):
        hood, bank = world.hood(km_north=1.0 + 1.5 * n, lockers=LOCKERS)
        state = banks.get_or_create_state(db_session=db, bank_id=bank.id)
        state.online, state.last_seen_at = True, utcnow()
        for _ in range(per_hood):
            world.order(hood, [(world.chilled, 1)], confirmed=False)
    cutoff(world, db)
    route = db.scalar(select(Route).where(Route.window_id == world.window.id))
    assert route is not None and route.status == RouteStatus.PUBLISHED
    assert len(route.stops) == hoods
    world.route_driver = driver  # type: ignore[attr-defined]
    return route


def stops_of(route: Route) -> list[RouteStop]:
    return sorted(route.stops, key=lambda s: s.sequence)


def parcels_of(db: Session, stop: RouteStop) -> list[Parcel]:
    return list(db.scalars(select(Parcel).where(Parcel.route_stop_id == stop.id)))


def error_type(answer: Any) -> str:
    return str(answer.json()["detail"][0]["type"])


def test_deposit_only_at_the_stop_the_driver_has_arrived_at(world, db, client_for) -> None:  # type: ignore[no-untyped-def]
    route = published_route(world, db)
    first, second = stops_of(route)
    client = client_for(world.route_driver)
    here, there = parcels_of(db, first)[0], parcels_of(db, second)[0]

    # Published, not started: nowhere yet.
    answer = client.post(f"/lockers/parcels/{here.id}/deposit")
    assert answer.status_code == 409 and error_type(answer) == "not_at_stop", answer.text

    assert client.post(f"/driver/routes/{route.id}/stops/{first.id}/arrive").status_code == 200
    # At the first stop, a parcel of the second stop (another bank) is refused.
    answer = client.post(f"/lockers/parcels/{there.id}/deposit")
    assert answer.status_code == 409 and error_type(answer) == "not_at_stop", answer.text
    assert answer.json()["detail"][0]["ctx"]["stop_id"] == second.id
    # The parcel of the stop the driver is at opens its compartment.
    opened = client.post(f"/lockers/parcels/{here.id}/deposit")
    assert opened.status_code == 202, opened.text

    # Once the stop is departed, its parcels can no longer be deposited there.
    for parcel in parcels_of(db, first):
        if parcel.id != here.id:
            handover.fail_parcel(
                db_session=db, route=route, stop=first, parcel_id=parcel.id, reason="damaged"
            )
    lifecycle.transition(db.get(Parcel, here.id), ParcelStatus.READY_FOR_PICKUP)  # type: ignore[type-var]
    db.flush()
    assert client.post(f"/driver/routes/{route.id}/stops/{first.id}/depart").status_code == 200
    failed = next(p for p in parcels_of(db, first) if p.id != here.id)
    lifecycle.retry_parcel(failed)
    lifecycle.transition(failed, ParcelStatus.LOADED)
    db.flush()
    answer = client.post(f"/lockers/parcels/{failed.id}/deposit")
    assert answer.status_code == 409 and error_type(answer) == "not_at_stop", answer.text


def test_another_drivers_route_is_not_a_stop_to_deposit_at(world, db) -> None:  # type: ignore[no-untyped-def]
    route = published_route(world, db, hoods=1)
    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    parcel = parcels_of(db, stop)[0]
    stranger = world.driver()
    try:
        deposit.request_deposit(db_session=db, parcel_id=parcel.id, driver_id=stranger.id)
    except handover.NotAtStop as refused:
        assert refused.extra["route_id"] == route.id
    else:
        raise AssertionError("a driver deposited on another driver's route")


def test_a_stop_departs_only_after_arriving_and_handing_over_every_parcel(
    world, db, client_for
) -> None:  # type: ignore[no-untyped-def]
    route = published_route(world, db)
    first, second = stops_of(route)
    client = client_for(world.route_driver)
    url = f"/driver/routes/{route.id}/stops"

    answer = client.post(f"{url}/{first.id}/depart")
    assert answer.status_code == 409 and error_type(answer) == "not_arrived", answer.text
    assert client.post(f"{url}/{first.id}/arrive").status_code == 200
    answer = client.post(f"{url}/{second.id}/arrive")
    assert answer.status_code == 409 and error_type(answer) == "still_at_stop", answer.text

    deposited, broken = parcels_of(db, first)
    answer = client.post(f"{url}/{first.id}/depart")
    assert answer.status_code == 409 and error_type(answer) == "parcels_not_handed_over"
    assert sorted(answer.json()["detail"][0]["ctx"]["parcel_ids"]) == sorted(
        [deposited.id, broken.id]
    )

    lifecycle.transition(deposited, ParcelStatus.READY_FOR_PICKUP)
    db.flush()
    bad = client.post(f"{url}/{first.id}/parcels/{broken.id}/fail", json={"reason": "melted"})
    assert bad.status_code == 422
    elsewhere = parcels_of(db, second)[0]
    answer = client.post(
        f"{url}/{second.id}/parcels/{elsewhere.id}/fail", json={"reason": "damaged"}
    )
    assert answer.status_code == 409 and error_type(answer) == "not_at_stop"
    failed = client.post(
        f"{url}/{first.id}/parcels/{broken.id}/fail",
        json={"reason": "compartment_broken", "note": "door jammed"},
    )
    assert failed.status_code == 200, failed.text
    shown = next(p for p in failed.json()["stops"][0]["parcels"] if p["parcel_id"] == broken.id)
    assert shown["status"] == "undelivered"
    assert shown["failure_reason"] == "compartment_broken: door jammed"

    departed = client.post(f"{url}/{first.id}/depart")
    assert departed.status_code == 200, departed.text
    assert departed.json()["stops"][0]["status"] == "failed"
    assert departed.json()["status"] == "in_progress"


def test_a_route_completes_clean_only_with_nothing_aboard(world, db) -> None:  # type: ignore[no-untyped-def]
    route = published_route(world, db, hoods=1)
    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    for parcel in parcels_of(db, stop):
        lifecycle.transition(parcel, ParcelStatus.READY_FOR_PICKUP)
    db.flush()
    driver_service.depart(db_session=db, route=route, stop_id=stop.id)
    assert route.status == RouteStatus.COMPLETED and route.alarm is None
    assert stop.status == StopStatus.SERVED


def test_a_route_with_parcels_aboard_completes_with_an_alarm_and_residents_are_told(
    world, db, client_for
) -> None:  # type: ignore[no-untyped-def]
    route = published_route(world, db, hoods=1, per_hood=3)
    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    delivered, *offline = parcels_of(db, stop)
    lifecycle.transition(delivered, ParcelStatus.READY_FOR_PICKUP)
    for parcel in offline:
        driver_service.fail_parcel(
            db_session=db,
            route=route,
            stop_id=stop.id,
            parcel_id=parcel.id,
            reason="locker_offline",
        )
    driver_service.depart(db_session=db, route=route, stop_id=stop.id)
    db.flush()

    answer = client_for(world.route_driver).get(f"/driver/routes/{route.id}")
    body = answer.json()
    assert body["status"] == "completed_with_alarm"
    assert body["alarm_parcels"] == 2 and "2 locker_offline" in body["alarm"]
    events = [
        e.payload
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.undelivered"))
        if e.payload["route_id"] == route.id
    ]
    assert sorted(e["parcel_id"] for e in events) == sorted(p.id for p in offline)

    dispatch.consume(db_session=db)
    told = {
        m.resident_id
        for m in db.scalars(select(Message).where(Message.template == "parcel_undelivered"))
    }
    assert told == {p.resident_id for p in offline}
