"""The tick settles undelivered parcels at their window's pickup deadline (not before, once),
also when two processes settle at the same moment (real commits; PostgreSQL when
DATABASE_URL points at one)."""

import threading
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clockwork import ThreadedCutoffs, tick
from app.core.clock import SimulatedClock
from app.core.enums import CompartmentSize, TemperatureClass
from app.orders.models import Order, OrderStatus
from app.payments import service as payment_service
from app.payments.models import LedgerEntry
from logistics import settlement
from logistics.models import Parcel, ParcelStatus

LOCKERS = {TemperatureClass.CHILLED: {CompartmentSize.S: 4, CompartmentSize.M: 2}}


def _cut_off_with_undelivered(
    committed_world, committed: sessionmaker[Session], sim_clock: SimulatedClock, orders: int
) -> tuple[list[int], object]:  # type: ignore[no-untyped-def]
    """A window cut off by the tick, each parcel then failed at its stop; (parcel ids, deadline)."""
    world, session = committed_world()
    world.van()
    hood, _ = world.hood(lockers=LOCKERS)
    for _ in range(orders):
        order = world.order(hood, [(world.chilled, 1)], confirmed=False)
        payment_service.charge(
            db_session=session,
            order=order,
            amount_minor=order.paid_minor,
            key=f"order:{order.id}:charge",
            reason="order placed",
        )
    session.commit()
    cutoffs = ThreadedCutoffs(session_factory=committed)
    sim_clock.advance_to(world.window.cutoff_at + timedelta(minutes=1))
    tick(launcher=cutoffs, session_factory=committed)
    cutoffs.wait(120)
    with committed() as db_session:
        parcels = list(
            db_session.scalars(select(Parcel).where(Parcel.window_id == world.window.id))
        )
        assert len(parcels) == orders
        for parcel in parcels:
            parcel.status = ParcelStatus.UNDELIVERED  # as if failed at its stop
            parcel.failure_reason = "locker_offline"
        for order in db_session.scalars(select(Order).where(Order.window_id == world.window.id)):
            order.status = OrderStatus.OUT_FOR_DELIVERY
        db_session.commit()
        return [p.id for p in parcels], world.window.pickup_deadline


def _undelivered_refunds(committed: sessionmaker[Session]) -> list[str]:
    with committed() as check:
        return list(
            check.scalars(
                select(LedgerEntry.idempotency_key).where(
                    LedgerEntry.idempotency_key.like("refund:undelivered:%")
                )
            )
        )


def test_the_tick_settles_undelivered_parcels_at_the_pickup_deadline_once(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database, sim_clock: SimulatedClock
) -> None:
    parcel_ids, deadline = _cut_off_with_undelivered(committed_world, committed, sim_clock, 1)
    cutoffs = ThreadedCutoffs(session_factory=committed)

    sim_clock.advance_to(deadline - timedelta(minutes=1))  # type: ignore[operator]
    before = tick(launcher=cutoffs, session_factory=committed)
    assert before.parcels_settled == 0 and "settlement" not in before.errors
    assert _undelivered_refunds(committed) == []

    sim_clock.advance_to(deadline)  # type: ignore[arg-type]
    at_deadline = tick(launcher=cutoffs, session_factory=committed)
    assert at_deadline.parcels_settled == 1 and at_deadline.errors == {}
    assert _undelivered_refunds(committed) == [f"refund:undelivered:{parcel_ids[0]}"]
    with committed() as check:
        parcel = check.get(Parcel, parcel_ids[0])
        assert parcel is not None and parcel.status == ParcelStatus.CANCELLED
        order = check.get(Order, parcel.order_id)
        assert order is not None and order.status == OrderStatus.UNDELIVERED

    again = tick(launcher=cutoffs, session_factory=committed)
    assert again.parcels_settled == 0
    assert len(_undelivered_refunds(committed)) == 1


def test_two_processes_settling_at_once_refund_each_parcel_once(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database, sim_clock: SimulatedClock
) -> None:
    parcel_ids, deadline = _cut_off_with_undelivered(committed_world, committed, sim_clock, 4)
    barrier = threading.Barrier(2)
    reports: list[settlement.SettlementReport] = []
    errors: list[BaseException] = []

    def settle() -> None:
        try:
            with committed() as db_session:
                barrier.wait(10)
                reports.append(
                    settlement.settle_due(db_session=db_session, now=deadline, batch=1)  # type: ignore[arg-type]
                )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    settled = sorted(pid for report in reports for pid in report.parcels_settled)
    assert settled == sorted(parcel_ids)  # each parcel by exactly one of the two
    assert sorted(_undelivered_refunds(committed)) == sorted(
        f"refund:undelivered:{pid}" for pid in parcel_ids
    )
    with committed() as check:
        total = check.scalar(
            select(func.sum(LedgerEntry.amount_minor)).where(
                LedgerEntry.idempotency_key.like("refund:undelivered:%")
            )
        )
        assert total == 1000 * len(parcel_ids)
