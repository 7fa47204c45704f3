"""Compartment reservation: zone and size match, overflow to the nearest bank, nothing dropped."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from app.neighborhoods.models import Compartment, CompartmentStatus
from logistics import compartment_claim, locker_capacity, packing, reservation
from logistics.models import Parcel, ParcelStatus

T, S = TemperatureClass, CompartmentSize


def _pack(db: Session, world) -> list[Parcel]:  # type: ignore[no-untyped-def]
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    return list(
        db.scalars(select(Parcel).where(Parcel.window_id == world.window.id).order_by(Parcel.id))
    )


def _reserve(db: Session, world) -> reservation.ReservationReport:  # type: ignore[no-untyped-def]
    report = reservation.reserve_window(db_session=db, window_id=world.window.id, commit=False)
    db.expire_all()
    return report


def test_parcels_take_a_compartment_of_their_zone_and_smallest_size(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, bank = world.hood()
    world.order(hood, [(world.chilled, 1), (world.frozen, 1), (world.ambient, 1)])
    parcels = _pack(db, world)
    report = _reserve(db, world)
    assert (report.reserved, report.unplaced, report.overflowed) == (3, 0, 0)
    for parcel in db.scalars(select(Parcel).where(Parcel.window_id == world.window.id)):
        compartment = db.get(Compartment, parcel.compartment_id)
        assert compartment is not None
        assert parcel.status == ParcelStatus.RESERVED
        assert parcel.bank_id == bank.id == compartment.bank_id
        assert compartment.zone == parcel.temperature_class
        assert compartment.status == CompartmentStatus.RESERVED
    sizes = {p.temperature_class: db.get(Compartment, p.compartment_id).size for p in parcels}  # type: ignore[union-attr]
    # Chilled and frozen S exist; ambient has only M compartments: the next size up.
    assert sizes == {T.CHILLED: S.S, T.FROZEN: S.S, T.AMBIENT: S.M}


def test_larger_compartment_used_when_the_right_size_is_gone(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers={T.CHILLED: {S.S: 1, S.L: 1}})
    world.order(hood, [(world.chilled, 1)])
    world.order(hood, [(world.chilled, 1)])
    _pack(db, world)
    _reserve(db, world)
    got = sorted(
        db.scalars(
            select(Compartment.size)
            .join(Parcel, Parcel.compartment_id == Compartment.id)
            .where(Parcel.window_id == world.window.id)
        )
    )
    assert got == [S.L, S.S]


def test_big_parcels_are_placed_before_small_ones_take_the_big_compartments(
    world, db: Session
) -> None:  # type: ignore[no-untyped-def]
    hood, bank = world.hood(lockers={T.CHILLED: {S.M: 1, S.L: 1}})
    big = world.make.product(world.city, temperature_class=T.CHILLED, packed_volume_ml=50_000)
    world.order(hood, [(world.chilled, 1)])  # small parcel, ordered first
    world.order(hood, [(big, 1)])  # needs the L
    _pack(db, world)
    report = _reserve(db, world)
    assert report.unplaced == 0 and report.overflowed == 0
    assert (
        db.scalar(
            select(func.count())
            .select_from(Parcel)
            .where(Parcel.window_id == world.window.id)
            .where(Parcel.bank_id == bank.id)
        )
        == 2
    )


def test_overflow_goes_to_the_nearest_bank_with_room_and_tells_the_resident(
    world, db: Session
) -> None:  # type: ignore[no-untyped-def]
    hood, home = world.hood(km_north=1.0, lockers={T.CHILLED: {S.S: 1}})
    _, near = world.hood(km_north=2.0, lockers={T.CHILLED: {S.M: 1}})
    _, far = world.hood(km_north=6.0, lockers={T.CHILLED: {S.S: 3}})
    _, wrong_zone = world.hood(km_north=1.5, lockers={T.FROZEN: {S.L: 3}})
    first = world.order(hood, [(world.chilled, 1)])
    second = world.order(hood, [(world.chilled, 1)])
    third = world.order(hood, [(world.chilled, 1)])
    _pack(db, world)
    report = _reserve(db, world)
    assert (report.reserved, report.overflowed, report.unplaced) == (3, 2, 0)
    bank_of = {
        p.order_id: p.bank_id
        for p in db.scalars(select(Parcel).where(Parcel.window_id == world.window.id))
    }
    assert bank_of[first.id] == home.id
    assert {bank_of[second.id], bank_of[third.id]} == {near.id, far.id}
    assert wrong_zone.id not in bank_of.values()
    mine = set(db.scalars(select(Parcel.id).where(Parcel.window_id == world.window.id)))
    events = [
        e
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.overflow"))
        if e.payload["parcel_id"] in mine
    ]
    assert len(events) == 2
    payload = next(e.payload for e in events if e.payload["to_bank_id"] == near.id)
    parcel = db.get(Parcel, payload["parcel_id"])
    assert parcel is not None
    assert payload == {
        "parcel_id": parcel.id,
        "order_id": parcel.order_id,
        "resident_id": parcel.resident_id,
        "from_bank_id": home.id,
        "to_bank_id": near.id,
    }


def test_full_everywhere_keeps_the_parcel_packed_with_a_reason(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers={T.FROZEN: {S.S: 1}})
    world.order(hood, [(world.frozen, 1)])
    world.order(hood, [(world.frozen, 1)])
    parcels = _pack(db, world)
    report = _reserve(db, world)
    assert (report.reserved, report.unplaced) == (1, 1)
    left = db.get(Parcel, report.unplaced_parcel_ids[0])
    assert (
        left is not None
        and left in db.scalars(select(Parcel).where(Parcel.window_id == world.window.id)).all()
    )
    assert left.status == ParcelStatus.PACKED
    assert left.compartment_id is None
    assert left.unplaced_reason == reservation.NO_ROOM_REASON
    assert (
        db.scalar(
            select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
        )
        == len(parcels)
        == 2
    )


def test_oversize_parcels_are_reported_not_booked(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    huge = world.make.product(world.city, temperature_class=T.CHILLED, packed_volume_ml=200_000)
    world.order(hood, [(huge, 1)])
    [parcel] = _pack(db, world)
    report = _reserve(db, world)
    assert report.reserved == 0
    db.refresh(parcel)
    assert parcel.compartment_id is None
    assert parcel.unplaced_reason == packing.OVERSIZE_REASON


def test_reservation_rerun_books_nothing_twice(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, bank = world.hood()
    for _ in range(3):
        world.order(hood, [(world.chilled, 1)])
    _pack(db, world)
    assert _reserve(db, world).reserved == 3
    assert _reserve(db, world).reserved == 0
    reserved = db.scalar(
        select(func.count())
        .select_from(Compartment)
        .where(Compartment.status == CompartmentStatus.RESERVED, Compartment.bank_id == bank.id)
    )
    assert reserved == 3


def test_compartment_taken_meanwhile_is_not_double_booked(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    """The claim is conditional on `free`: a compartment booked since the snapshot is skipped."""
    hood, bank = world.hood(lockers={T.CHILLED: {S.S: 2}})
    world.order(hood, [(world.chilled, 1)])
    _pack(db, world)
    first, second = db.scalars(
        select(Compartment.id).where(Compartment.bank_id == bank.id).order_by(Compartment.id)
    )
    assert compartment_claim.claim(db, [first]) == {first}
    assert compartment_claim.claim(db, [first, second]) == {second}
    assert compartment_claim.claim(db, [first, second]) == set()


def test_release_frees_the_compartment(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    world.order(hood, [(world.chilled, 1)])
    [parcel] = _pack(db, world)
    _reserve(db, world)
    parcel = db.get(Parcel, parcel.id)
    compartment_id = parcel.compartment_id
    reservation.release(db_session=db, parcel_id=parcel.id)
    db.expire_all()
    assert db.get(Compartment, compartment_id).status == CompartmentStatus.FREE  # type: ignore[union-attr]
    assert db.get(Parcel, parcel.id).status == ParcelStatus.PACKED  # type: ignore[union-attr]


def test_capacity_for_subtracts_expected_parcels(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers={T.CHILLED: {S.S: 2, S.M: 1}, T.FROZEN: {S.S: 1}})
    world.order(hood, [(world.chilled, 1)], confirmed=False)
    world.order(hood, [(world.frozen, 1), (world.chilled, 1)], confirmed=False)
    info = locker_capacity.capacity_for(
        db_session=db, neighborhood_id=hood.id, window_id=world.window.id
    )
    chilled, frozen, ambient = info[T.CHILLED], info[T.FROZEN], info[T.AMBIENT]
    assert (
        chilled.free_compartments,
        chilled.expected_parcels,
        chilled.remaining_compartments,
    ) == (3, 2, 1)
    assert chilled.remaining_by_size == {S.S: 0, S.M: 1, S.L: 0}
    assert not chilled.full
    assert (frozen.free_compartments, frozen.expected_parcels, frozen.remaining_compartments) == (
        1,
        1,
        0,
    )
    assert frozen.full
    assert ambient.full and ambient.free_compartments == 0


def test_capacity_counts_reserved_compartments_as_taken(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers={T.CHILLED: {S.S: 2}})
    world.order(hood, [(world.chilled, 1)])
    _pack(db, world)
    _reserve(db, world)
    info = locker_capacity.capacity_for(
        db_session=db, neighborhood_id=hood.id, window_id=world.window.id
    )
    assert (info[T.CHILLED].free_compartments, info[T.CHILLED].expected_parcels) == (1, 0)
    world.order(hood, [(world.chilled, 1)], confirmed=False)
    info = locker_capacity.capacity_for(
        db_session=db, neighborhood_id=hood.id, window_id=world.window.id
    )
    assert info[T.CHILLED].full


def test_capacity_endpoint_roles(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers={T.FROZEN: {S.S: 1}})
    other_hood, _ = world.hood(km_north=3)
    world.order(hood, [(world.frozen, 1)], confirmed=False)
    url = f"/neighborhoods/{hood.id}/locker-capacity?window_id={world.window.id}"
    resident = client_for(world.resident(hood))
    answer = resident.get(url)
    assert answer.status_code == 200, answer.text
    zones = {z["temperature_class"]: z for z in answer.json()["zones"]}
    assert zones["frozen"]["full"] is True
    assert zones["frozen"]["expected_parcels"] == 1
    assert client_for(world.operator()).get(url).status_code == 200
    assert client_for(world.resident(other_hood)).get(url).status_code == 404
    assert client_for(world.driver()).get(url).status_code == 403
    outsider = world.make.operator(city=world.make.city())
    assert client_for(outsider).get(url).status_code == 404
