"""Two reservations running at once (committed sessions, threads) never book a compartment twice.

Meaningful on PostgreSQL (row locks, SKIP LOCKED, READ COMMITTED); on SQLite writers serialise,
and the same assertions must hold.
"""

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import Compartment, CompartmentStatus
from logistics import packing, reservation
from logistics.models import Parcel, ParcelStatus

T, S = TemperatureClass, CompartmentSize


def test_two_windows_reserving_at_once_never_share_a_compartment(
    committed_world, committed
) -> None:  # type: ignore[no-untyped-def]
    world, session = committed_world()
    hood, bank = world.hood(lockers={T.CHILLED: {S.S: 20, S.M: 10}})
    other_window = world.make.window(
        world.city,
        cutoff_in=timedelta(hours=-1),
        slot_name="evening",
        local_date=world.window.local_date,
    )
    windows = [world.window.id, other_window.id]
    for window in (world.window, other_window):
        world.window = window
        world._group_buys.clear()
        for _ in range(25):
            world.order(hood, [(world.chilled, 1)])
    session.commit()
    for window_id in windows:
        packing.pack_window(db_session=session, window_id=window_id, fill_factor=0.85)
    session.commit()

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    reports: dict[int, Any] = {}

    def reserve(window_id: int) -> None:
        with committed() as own:
            try:
                barrier.wait(timeout=10)
                reports[window_id] = reservation.reserve_window(
                    db_session=own, window_id=window_id, batch_size=1
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=reserve, args=(w,)) for w in windows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    with committed() as check:
        booked = list(
            check.scalars(select(Parcel.compartment_id).where(Parcel.compartment_id.is_not(None)))
        )
        assert len(booked) == len(set(booked)) == 30  # every compartment once, none twice
        reserved = check.scalar(
            select(func.count())
            .select_from(Compartment)
            .where(Compartment.bank_id == bank.id, Compartment.status == CompartmentStatus.RESERVED)
        )
        assert reserved == 30
        left = list(check.scalars(select(Parcel).where(Parcel.compartment_id.is_(None))))
        assert len(left) == 20
        assert all(p.status == ParcelStatus.PACKED and p.unplaced_reason for p in left), [
            (p.status, p.unplaced_reason) for p in left
        ]
    assert sum(r.reserved for r in reports.values()) == 30
    assert sum(r.unplaced for r in reports.values()) == 20
