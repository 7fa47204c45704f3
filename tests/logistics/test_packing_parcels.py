"""Packing: one parcel per order and temperature class, split to fit, smallest size, idempotent."""

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.orders.models import LineStatus, OrderStatus
from logistics import packing
from logistics.models import Parcel, ParcelStatus

S, M, L = CompartmentSize.S, CompartmentSize.M, CompartmentSize.L
SIZES = {S: 17_000, M: 38_250, L: 76_500}  # 20/45/90 L at 85 %


def test_small_order_gets_one_small_parcel() -> None:
    parcels = packing.pack_lines(
        [(TemperatureClass.CHILLED, 1500, 500, 2)], {tc: SIZES for tc in TemperatureClass}
    )
    assert [(p.volume_ml, p.weight_g, p.size) for p in parcels] == [(3000, 1000, S)]


def test_size_is_the_smallest_that_fits_after_the_fill_factor() -> None:
    # 18 L does not fit an S (20 L x 85 % = 17 L) but fits an M.
    parcels = packing.pack_units(TemperatureClass.CHILLED, [packing.Unit(18_000, 1)], SIZES)
    assert parcels[0].size == M
    parcels = packing.pack_units(TemperatureClass.CHILLED, [packing.Unit(17_000, 1)], SIZES)
    assert parcels[0].size == S


def test_order_too_big_for_the_largest_compartment_is_split() -> None:
    units = [packing.Unit(5000, 1000)] * 20  # 100 L > 76.5 L usable in an L
    parcels = packing.pack_units(TemperatureClass.CHILLED, units, SIZES)
    assert len(parcels) == 2
    assert sum(p.volume_ml for p in parcels) == 100_000
    assert sum(p.units for p in parcels) == 20
    assert all(p.volume_ml <= SIZES[L] for p in parcels)
    assert [p.size for p in parcels] == [L, M]  # 75 L and 25 L


def test_a_unit_bigger_than_any_compartment_is_marked_not_dropped() -> None:
    parcels = packing.pack_units(
        TemperatureClass.FROZEN, [packing.Unit(100_000, 9000), packing.Unit(1000, 100)], SIZES
    )
    assert sorted(p.oversize for p in parcels) == [False, True]
    assert sum(p.units for p in parcels) == 2


def test_usable_volumes_come_from_the_city_compartments(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _, bank = world.hood(lockers={})
    world.make.compartment(bank, size=L, zone=TemperatureClass.FROZEN, inner_volume_ml=40_000)
    table = packing.usable_volumes(db_session=db, city_id=world.city.id, fill_factor=0.5)
    assert table[TemperatureClass.FROZEN] == {L: 20_000}
    # No chilled compartments at all: the default bank model.
    assert table[TemperatureClass.CHILLED][L] == 45_000


def test_pack_window_one_parcel_per_order_and_class(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    order = world.order(hood, [(world.chilled, 2), (world.frozen, 1), (world.ambient, 1)])
    placed = world.order(hood, [(world.chilled, 1)], confirmed=False)
    report = packing.pack_window(
        db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False
    )
    assert report.orders_packed == 1
    parcels = list(
        db.scalars(
            select(Parcel)
            .where(Parcel.window_id == world.window.id)
            .where(Parcel.order_id == order.id)
        )
    )
    assert sorted(p.temperature_class for p in parcels) == ["ambient", "chilled", "frozen"]
    chilled = next(p for p in parcels if p.temperature_class == TemperatureClass.CHILLED)
    assert (chilled.volume_ml, chilled.weight_g, chilled.compartment_size) == (3000, 1000, S)
    assert all(p.status == ParcelStatus.PACKED and p.compartment_id is None for p in parcels)
    assert all(p.pickup_deadline == world.window.pickup_deadline for p in parcels)
    db.refresh(order)
    assert order.status == OrderStatus.PACKED
    db.refresh(placed)
    assert placed.status == OrderStatus.PLACED  # not confirmed: not packed
    assert (
        db.scalar(
            select(func.count())
            .select_from(Parcel)
            .where(Parcel.window_id == world.window.id)
            .where(Parcel.order_id == placed.id)
        )
        == 0
    )


@pytest.mark.parametrize("column", ["window_id", "resident_id", "neighborhood_id"])
def test_a_parcel_must_agree_with_its_order(world, db: Session, column: str) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    other_hood, _ = world.hood(km_north=2.0)
    order = world.order(hood, [(world.chilled, 1)])
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    packed = db.execute(select(Parcel.__table__).where(Parcel.order_id == order.id)).one()
    row = dict(packed._mapping) | {"sequence": 2}
    row.pop("id")
    elsewhere = {
        "window_id": world.make.window(world.city).id,
        "resident_id": world.resident(hood).id,
        "neighborhood_id": other_hood.id,
    }
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(insert(Parcel).values(row | {column: elsewhere[column]}))
    with db.begin_nested():  # the same row agreeing with its order is stored
        db.execute(insert(Parcel).values(row))
    assert db.scalar(select(func.count()).where(Parcel.order_id == order.id)) == 2


def test_pack_window_skips_failed_lines(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    order = world.order(hood, [(world.chilled, 2), (world.frozen, 1)])
    order.lines[1].status = LineStatus.GROUP_FAILED
    db.flush()
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    classes = db.scalars(select(Parcel.temperature_class).where(Parcel.order_id == order.id))
    assert list(classes) == [TemperatureClass.CHILLED]


def test_pack_window_splits_big_orders_with_sequences(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    big = world.make.product(
        world.city, temperature_class=TemperatureClass.CHILLED, packed_volume_ml=10_000
    )
    order = world.order(hood, [(big, 12)])  # 120 L of chilled: two L-size parcels
    report = packing.pack_window(
        db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False
    )
    assert report.split_orders == 1
    parcels = list(
        db.scalars(
            select(Parcel)
            .where(Parcel.window_id == world.window.id)
            .where(Parcel.order_id == order.id)
            .order_by(Parcel.sequence)
        )
    )
    assert [p.sequence for p in parcels] == [1, 2]
    assert sum(p.volume_ml for p in parcels) == 120_000
    assert all(p.volume_ml <= 76_500 for p in parcels)


def test_pack_window_is_idempotent(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood()
    for _ in range(3):
        world.order(hood, [(world.chilled, 1), (world.frozen, 2)])
    first = packing.pack_window(
        db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False
    )
    count = db.scalar(
        select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
    )
    again = packing.pack_window(
        db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False
    )
    assert (first.parcels_created, again.parcels_created, again.orders_packed) == (6, 0, 0)
    assert (
        db.scalar(
            select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
        )
        == count
        == 6
    )


def test_pack_window_does_not_duplicate_an_order_already_packed_but_not_moved(
    world, db: Session
) -> None:  # type: ignore[no-untyped-def]
    """A crash between creating parcels and moving the order cannot happen inside one batch, but
    if an order is confirmed while it has parcels, packing only moves it on."""
    hood, _ = world.hood()
    order = world.order(hood, [(world.chilled, 1)])
    packing.pack_window(db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False)
    order.status = OrderStatus.CONFIRMED  # as if the status update had been lost
    db.flush()
    report = packing.pack_window(
        db_session=db, window_id=world.window.id, fill_factor=0.85, commit=False
    )
    assert (report.orders_packed, report.parcels_created) == (1, 0)
    assert (
        db.scalar(
            select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
        )
        == 1
    )
