"""The van's cold chain: chilled and frozen parcels reached past the limit after loading are
flagged once with their minutes over, the resident told once; within the limit, or ambient,
nothing is flagged."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.enums import TemperatureClass
from app.events.models import OutboxEvent
from app.residents.models import Resident
from logistics import driver as driver_service
from logistics import van_cold_chain
from logistics.models import Parcel, Route
from notifications import dispatch
from notifications.models import Message
from tests.logistics.conftest import World
from tests.logistics.test_seams import parcels_of, stops_of
from tests.logistics.test_undelivered_settlement import _route

LIMIT = 180  # the default LOGISTICS_COLD_CHAIN_MINUTES


def _arrive_after(db: Session, route: Route, minutes: float) -> list[Parcel]:
    started = utcnow()
    driver_service.start(db_session=db, route=route, now=started)
    [stop] = stops_of(route)
    driver_service.arrive(
        db_session=db, route=route, stop_id=stop.id, now=started + timedelta(minutes=minutes)
    )
    db.flush()
    return parcels_of(db, stop)


def _flag_events(db: Session) -> list[OutboxEvent]:
    return list(db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.cold_chain_flag")))


def test_cold_parcels_reached_past_the_limit_are_flagged_once_with_their_minutes(
    world: World, db: Session, client_for
) -> None:  # type: ignore[no-untyped-def]
    route = _route(world, db, [[(world.chilled, 1), (world.ambient, 1)], [(world.chilled, 2)]])
    parcels = _arrive_after(db, route, LIMIT + 4.5)
    cold = [p for p in parcels if p.temperature_class == TemperatureClass.CHILLED]
    dry = [p for p in parcels if p.temperature_class == TemperatureClass.AMBIENT]
    assert len(cold) == 2 and len(dry) == 1

    assert all(p.van_minutes_over_limit == 5 for p in cold)  # 4.5 min over, rounded up
    assert dry[0].van_minutes_over_limit is None
    events = _flag_events(db)
    assert sorted(e.payload["parcel_id"] for e in events) == sorted(p.id for p in cold)
    assert all(e.payload["minutes_out"] == 5 and e.payload["zone"] == "chilled" for e in events)

    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)  # a repeated tap
    again = van_cold_chain.flag_at_stop(db_session=db, route=route, stop=stop, limit_minutes=LIMIT)
    assert again == [] and len(_flag_events(db)) == 2

    dispatch.consume(db_session=db)
    messages = db.scalars(select(Message).where(Message.template == "cold_chain_flag")).all()
    assert sorted(m.resident_id for m in messages) == sorted(p.resident_id for p in cold)
    assert all(m.params["minutes"] == 5 for m in messages)

    shown = client_for(world.route_driver).get(f"/driver/routes/{route.id}").json()
    by_id = {p["parcel_id"]: p for s in shown["stops"] for p in s["parcels"]}
    assert by_id[cold[0].id]["van_minutes_over_limit"] == 5
    assert by_id[dry[0].id]["van_minutes_over_limit"] is None

    resident = db.get(Resident, cold[0].resident_id)
    assert resident is not None
    mine = client_for(resident).get("/lockers/my-parcels").json()
    items = mine["items"] if isinstance(mine, dict) else mine
    minutes = {p["parcel_id"]: p["cold_chain_minutes_out"] for p in items}
    assert minutes[cold[0].id] == 5


def test_cold_parcels_within_the_limit_are_not_flagged(world: World, db: Session) -> None:
    route = _route(world, db, [[(world.chilled, 1), (world.ambient, 1)]])
    parcels = _arrive_after(db, route, LIMIT)
    assert parcels and all(p.van_minutes_over_limit is None for p in parcels)
    assert _flag_events(db) == []


def test_minutes_over_rounds_up_and_is_none_within_the_limit() -> None:
    start = utcnow()
    over = van_cold_chain.minutes_over
    assert (
        over(started_at=start, arrived_at=start + timedelta(minutes=180), limit_minutes=180) is None
    )
    assert (
        over(started_at=start, arrived_at=start + timedelta(seconds=10_801), limit_minutes=180) == 1
    )
    assert over(started_at=start, arrived_at=start + timedelta(minutes=185), limit_minutes=180) == 5
