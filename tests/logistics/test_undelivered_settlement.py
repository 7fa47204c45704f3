"""Undelivered parcels settled at their window's pickup deadline: refunded exactly what they
carried (not before the deadline, once), cancelled with their reason kept, their orders ended
(undelivered, or following the delivered parcels), and the residents told by SMS."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from app.orders.models import Order, OrderStatus
from app.payments import service as payment_service
from app.payments.models import EntryKind, LedgerEntry
from lockers import banks
from logistics import driver as driver_service
from logistics import lifecycle, settlement
from logistics.models import Parcel, ParcelStatus, Route, RouteStatus
from notifications import dispatch
from notifications.models import Message
from tests.logistics.conftest import World
from tests.logistics.test_seams import cutoff, parcels_of, stops_of

LOCKERS = {
    TemperatureClass.CHILLED: {CompartmentSize.S: 4},
    TemperatureClass.AMBIENT: {CompartmentSize.M: 2},
}


def _charge(db: Session, order: Order) -> None:
    payment_service.charge(
        db_session=db,
        order=order,
        amount_minor=order.paid_minor,
        key=f"order:{order.id}:charge",
        reason="order placed",
    )


def _route(world: World, db: Session, orders: list[list[tuple[object, int]]]) -> Route:
    """One van, one stop, the given orders (lines of product, quantity) charged and cut off."""
    driver = world.driver()
    world.van(default_driver_id=driver.id)
    hood, bank = world.hood(lockers=LOCKERS)
    state = banks.get_or_create_state(db_session=db, bank_id=bank.id)
    state.online, state.last_seen_at = True, utcnow()
    for lines in orders:
        order = world.order(hood, lines, confirmed=False)  # type: ignore[arg-type]
        _charge(db, order)
    cutoff(world, db)
    route = db.scalar(select(Route).where(Route.window_id == world.window.id))
    assert route is not None and route.status == RouteStatus.PUBLISHED
    world.route_driver = driver  # type: ignore[attr-defined]
    return route


def _refunds(db: Session, order_id: int) -> list[LedgerEntry]:
    return list(
        db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.order_id == order_id, LedgerEntry.kind == EntryKind.REFUND
            )
        )
    )


def test_a_parcel_failed_at_its_stop_is_refunded_its_value_at_the_deadline_once(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _route(world, db, [[(world.chilled, 2)], [(world.chilled, 1)]])
    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    failed, delivered = sorted(parcels_of(db, stop), key=lambda p: p.order_id)
    lifecycle.transition(delivered, ParcelStatus.READY_FOR_PICKUP)
    driver_service.fail_parcel(
        db_session=db, route=route, stop_id=stop.id, parcel_id=failed.id, reason="damaged"
    )
    driver_service.depart(db_session=db, route=route, stop_id=stop.id)
    db.flush()
    order = db.get(Order, failed.order_id)
    assert order is not None and order.status == OrderStatus.OUT_FOR_DELIVERY
    deadline = world.window.pickup_deadline

    early = settlement.settle_due(db_session=db, now=deadline - timedelta(seconds=1))
    assert early.parcels_settled == [] and _refunds(db, order.id) == []
    assert db.get(Parcel, failed.id).status == ParcelStatus.UNDELIVERED  # type: ignore[union-attr]

    due = settlement.settle_due(db_session=db, now=deadline)
    assert due.parcels_settled == [failed.id]
    assert due.refunded_minor == 2 * 1000  # two units at the final price of 1000
    [refund] = _refunds(db, order.id)
    assert refund.amount_minor == 2000
    assert refund.idempotency_key == f"refund:undelivered:{failed.id}"
    db.refresh(failed)
    assert failed.status == ParcelStatus.CANCELLED and failed.failure_reason == "damaged"
    db.refresh(order)
    assert order.status == OrderStatus.UNDELIVERED
    assert payment_service.balance(db_session=db, order_id=order.id) == 0
    assert due.orders_undelivered == [order.id]
    other = db.get(Order, delivered.order_id)
    assert other is not None and _refunds(db, other.id) == []

    again = settlement.settle_due(db_session=db, now=deadline + timedelta(hours=1))
    assert again.parcels_settled == [] and again.refunded_minor == 0
    assert len(_refunds(db, order.id)) == 1

    dispatch.consume(db_session=db)
    [message] = db.scalars(select(Message).where(Message.template == "undelivered_refund")).all()
    assert message.resident_id == order.resident_id
    assert message.params["refunded_minor"] == 2000 and message.params["order_id"] == order.id
    events = db.scalars(
        select(OutboxEvent).where(OutboxEvent.kind == settlement.REFUNDED_EVENT)
    ).all()
    assert [e.payload["parcel_id"] for e in events] == [failed.id]


def test_a_partly_delivered_order_is_refunded_the_undelivered_part_only(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _route(world, db, [[(world.chilled, 1), (world.ambient, 3)]])
    [stop] = stops_of(route)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    parcels = {TemperatureClass(p.temperature_class): p for p in parcels_of(db, stop)}
    cold, dry = parcels[TemperatureClass.CHILLED], parcels[TemperatureClass.AMBIENT]
    lifecycle.transition(dry, ParcelStatus.READY_FOR_PICKUP)
    driver_service.fail_parcel(
        db_session=db, route=route, stop_id=stop.id, parcel_id=cold.id, reason="locker_offline"
    )
    driver_service.depart(db_session=db, route=route, stop_id=stop.id)
    lifecycle.transition(dry, ParcelStatus.COLLECTED)
    db.flush()
    order = db.get(Order, cold.order_id)
    assert order is not None and order.paid_minor == 4000

    report = settlement.settle_due(db_session=db, now=world.window.pickup_deadline)

    assert report.parcels_settled == [cold.id] and report.orders_undelivered == []
    assert [r.amount_minor for r in _refunds(db, order.id)] == [1000]
    assert payment_service.balance(db_session=db, order_id=order.id) == 3000
    db.refresh(order)
    assert order.status == OrderStatus.COLLECTED  # follows the delivered parcel
    db.refresh(dry)
    assert dry.status == ParcelStatus.COLLECTED


def test_a_parcel_no_route_serves_is_settled_too_and_its_compartment_freed(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _route(world, db, [[(world.chilled, 1)]])
    [stop] = stops_of(route)
    [parcel] = parcels_of(db, stop)
    # As the planner leaves it when no route serves its bank: undelivered, off any stop.
    lifecycle.transition(parcel, ParcelStatus.UNDELIVERED)
    parcel.failure_reason, parcel.route_stop_id = "not_routed:no_vehicle", None
    db.flush()
    compartment_id = parcel.compartment_id
    assert compartment_id is not None

    report = settlement.settle_due(db_session=db, now=world.window.pickup_deadline)

    assert report.parcels_settled == [parcel.id] and report.refunded_minor == 1000
    db.refresh(parcel)
    assert parcel.status == ParcelStatus.CANCELLED
    assert parcel.failure_reason == "not_routed:no_vehicle"
    order = db.get(Order, parcel.order_id)
    assert order is not None and order.status == OrderStatus.UNDELIVERED
    from app.neighborhoods.models import Compartment, CompartmentStatus

    compartment = db.get(Compartment, compartment_id)
    assert compartment is not None
    db.refresh(compartment)
    assert compartment.status == CompartmentStatus.FREE


def test_a_class_value_is_split_over_its_parcels_with_the_remainder_on_the_last(world, db) -> None:  # type: ignore[no-untyped-def]
    hood, _ = world.hood(lockers=LOCKERS)
    order = world.order(hood, [(world.chilled, 1), (world.ambient, 1)])
    chilled_line = next(line for line in order.lines if line.product_id == world.chilled.id)
    chilled_line.final_unit_price_minor = 1001
    db.flush()
    parcels = [
        Parcel(id=901, temperature_class=TemperatureClass.CHILLED, sequence=1),
        Parcel(id=903, temperature_class=TemperatureClass.CHILLED, sequence=3),
        Parcel(id=902, temperature_class=TemperatureClass.CHILLED, sequence=2),
        Parcel(id=904, temperature_class=TemperatureClass.AMBIENT, sequence=1),
    ]

    shares = settlement.parcel_values(db_session=db, order_id=order.id, parcels=parcels)

    assert shares == {901: 333, 902: 333, 903: 335, 904: 1000}


def test_a_refund_never_exceeds_what_the_order_still_holds(world, db) -> None:  # type: ignore[no-untyped-def]
    route = _route(world, db, [[(world.chilled, 2)]])
    [stop] = stops_of(route)
    [parcel] = parcels_of(db, stop)
    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    driver_service.fail_parcel(
        db_session=db, route=route, stop_id=stop.id, parcel_id=parcel.id, reason="missing"
    )
    order = db.get(Order, parcel.order_id)
    assert order is not None
    payment_service.refund(
        db_session=db, order=order, amount_minor=1500, key="goodwill", reason="goodwill"
    )

    report = settlement.settle_due(db_session=db, now=world.window.pickup_deadline)

    assert report.refunded_minor == 500
    assert payment_service.balance(db_session=db, order_id=order.id) == 0
