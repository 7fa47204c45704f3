"""Re-planning after a van or a bank drops out: served stops stay served, loaded parcels stay on
their van where it can, and only what remains is re-solved."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from app.neighborhoods.models import Compartment, CompartmentStatus
from logistics import driver as driver_service
from logistics import pipeline, replan
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus, RouteStop
from tests.logistics.conftest import World, fast_settings, serve_stop

T, S = TemperatureClass, CompartmentSize
LOCKERS = {T.CHILLED: {S.S: 3}}


def _cutoff(world: World, db: Session) -> None:
    factory = sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    assert report.unassigned == []
    db.expire_all()


def _routes(db: Session, world: World) -> dict[int, Route]:
    db.expire_all()
    return {
        r.vehicle_id: r for r in db.scalars(select(Route).where(Route.window_id == world.window.id))
    }


def _parcels_by_stop(db: Session, world: World) -> dict[int | None, set[int]]:
    found: dict[int | None, set[int]] = {}
    for parcel in db.scalars(select(Parcel).where(Parcel.window_id == world.window.id)):
        found.setdefault(parcel.route_stop_id, set()).add(parcel.id)
    return found


def _two_van_city(world: World) -> list[int]:
    """Four stops of 4.5 L chilled; vans of 10 L: two vans needed, a third one spare."""
    vans = [world.van(chilled_volume_ml=10_000) for _ in range(3)]
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 3)], confirmed=False)
    return [v.id for v in vans]


def _replan(db: Session, world: World, **kw):  # type: ignore[no-untyped-def]
    report = replan.replan_window(
        db_session=db, window_id=world.window.id, settings=fast_settings(), **kw
    )
    db.flush()
    return report


def test_a_van_drops_out_after_serving_a_stop(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _two_van_city(world)
    _cutoff(world, db)
    routes = _routes(db, world)
    assert len(routes) == 2
    dropped = next(iter(routes.values()))
    first, second = sorted(dropped.stops, key=lambda s: s.sequence)
    serve_stop(db, dropped, first)
    db.flush()
    at_first = _parcels_by_stop(db, world)[first.id]
    moving = _parcels_by_stop(db, world)[second.id]

    report = _replan(db, world, vehicle_id_out=dropped.vehicle_id)
    assert report.unassigned == []
    assert report.plan_version == 2
    routes = _routes(db, world)
    gone = routes[dropped.vehicle_id]
    assert gone.status == RouteStatus.ABORTED
    assert [s.id for s in gone.stops] == [first.id]  # the served stop stays, with its parcels
    served = db.get(RouteStop, first.id)
    assert served is not None and served.departed_at is not None
    by_stop = _parcels_by_stop(db, world)
    assert by_stop[first.id] == at_first
    assert None not in by_stop  # every parcel is still on a route
    new_stop = {db.get(Parcel, p).route_stop_id for p in moving}  # type: ignore[union-attr]
    assert len(new_stop) == 1
    carrier = db.get(RouteStop, new_stop.pop())
    assert carrier is not None and carrier.route.vehicle_id != dropped.vehicle_id
    assert carrier.route.status == RouteStatus.PUBLISHED  # shown to its driver at once
    for parcel in db.scalars(select(Parcel).where(Parcel.id.in_(moving))):
        assert parcel.status == ParcelStatus.LOADED or parcel.status == ParcelStatus.RESERVED
    events = [
        e.payload
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "route.replanned"))
        if e.payload["window_id"] == world.window.id
    ]
    assert events == [
        {
            "window_id": world.window.id,
            "plan_version": 2,
            "vehicle_id_out": dropped.vehicle_id,
            "bank_id_out": None,
            "routes": report.routes,
            "unassigned": 0,
        }
    ]


def test_parcels_loaded_on_a_van_still_driving_stay_on_it(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _two_van_city(world)
    _cutoff(world, db)
    dropped, kept = list(_routes(db, world).values())
    driver_service.start(db_session=db, route=dropped)
    driver_service.start(db_session=db, route=kept)
    kept_first = sorted(kept.stops, key=lambda s: s.sequence)[0]
    serve_stop(db, kept, kept_first)
    db.flush()
    kept_parcels = {
        p.id
        for p in db.scalars(
            select(Parcel).where(Parcel.route_stop_id.in_([s.id for s in kept.stops]))
        )
    }
    dropped_parcels = {
        p.id
        for p in db.scalars(
            select(Parcel).where(Parcel.route_stop_id.in_([s.id for s in dropped.stops]))
        )
    }

    report = _replan(db, world, vehicle_id_out=dropped.vehicle_id)
    assert report.unassigned == []
    routes = _routes(db, world)
    kept = routes[kept.vehicle_id]
    assert kept.status == RouteStatus.IN_PROGRESS
    on_kept = {
        p.id
        for p in db.scalars(
            select(Parcel).where(Parcel.route_stop_id.in_([s.id for s in kept.stops]))
        )
    }
    assert on_kept == kept_parcels  # pinned: nothing removed from it, nothing new loaded
    assert kept_first.id in {s.id for s in kept.stops}
    rest = sorted((s for s in kept.stops if s.id != kept_first.id), key=lambda s: s.sequence)
    assert rest and rest[0].sequence > kept_first.sequence
    # The dropped van's parcels are unloaded and travel on the spare van from the depot.
    spare = [r for v, r in routes.items() if v not in (kept.vehicle_id, dropped.vehicle_id)]
    assert len(spare) == 1
    on_spare = {
        p.id
        for p in db.scalars(
            select(Parcel).where(Parcel.route_stop_id.in_([s.id for s in spare[0].stops]))
        )
    }
    assert on_spare == dropped_parcels
    assert {p.status for p in db.scalars(select(Parcel).where(Parcel.id.in_(on_spare)))} == {
        ParcelStatus.RESERVED
    }


def test_a_bank_drops_out_and_its_parcels_move_to_the_nearest_bank(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    world.van()
    hoods = [world.hood(km_north=1.0 + 2 * n, lockers=LOCKERS) for n in range(3)]
    for hood, _ in hoods:
        world.order(hood, [(world.chilled, 1)], confirmed=False)
    _, spare_bank = world.hood(km_north=3.4, lockers=LOCKERS)  # near the second bank
    _cutoff(world, db)
    route = next(iter(_routes(db, world).values()))
    stops = sorted(route.stops, key=lambda s: s.sequence)
    serve_stop(db, route, stops[0])
    db.flush()
    out_bank = hoods[1][1]
    [moved] = db.scalars(
        select(Parcel).where(Parcel.window_id == world.window.id, Parcel.bank_id == out_bank.id)
    )
    old_compartment = moved.compartment_id

    report = _replan(db, world, bank_id_out=out_bank.id)
    assert report.unassigned == [] and report.moved_parcels == 1
    db.expire_all()
    moved = db.get(Parcel, moved.id)
    assert moved is not None
    assert moved.bank_id == spare_bank.id
    assert moved.status == ParcelStatus.LOADED  # still on the van
    assert db.get(Compartment, old_compartment).status == CompartmentStatus.FREE  # type: ignore[union-attr]
    stop = db.get(RouteStop, moved.route_stop_id)
    assert stop is not None and stop.bank_id == spare_bank.id
    assert stop.route_id == route.id  # pinned to the van that carries it
    route = _routes(db, world)[route.vehicle_id]
    assert out_bank.id not in {s.bank_id for s in route.stops}
    assert route.stops[0].id == stops[0].id  # served stop untouched
    overflow = [
        e.payload
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.overflow"))
        if e.payload["parcel_id"] == moved.id
    ]
    assert overflow == [
        {
            "parcel_id": moved.id,
            "order_id": moved.order_id,
            "resident_id": moved.resident_id,
            "from_bank_id": out_bank.id,
            "to_bank_id": spare_bank.id,
        }
    ]
    pushed = [
        e.payload
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.reserved"))
        if e.payload["parcel_id"] == moved.id
    ]
    assert [p["bank_id"] for p in pushed] == [out_bank.id, spare_bank.id]


def test_replan_endpoint(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    vans = _two_van_city(world)
    _cutoff(world, db)
    url = f"/windows/{world.window.id}/replan"
    operator = client_for(world.operator())
    assert operator.post(url, json={}).status_code == 422
    assert operator.post(url, json={"vehicle_id_out": 10**8}).status_code == 404
    assert client_for(world.driver()).post(url, json={"vehicle_id_out": vans[0]}).status_code == 403
    answer = operator.post(url, json={"vehicle_id_out": vans[0]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["plan_version"] == 2 and body["unassigned"] == []
    status = operator.get(f"/windows/{world.window.id}/cutoff").json()
    assert status["plan_version"] == 2
