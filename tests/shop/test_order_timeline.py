"""An order's timeline on the phone: the pickup code and its QR only for its owner, the failed
group with its refund, the collected end."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.models import CompartmentStatus
from app.orders.models import Order, OrderStatus
from lockers import codes
from logistics.models import Parcel, ParcelStatus
from tests.conftest import World
from tests.factories import Factory


def _parcel_in_locker(db: Session, make: Factory, world: World, order: Order) -> Parcel:
    bank = make.locker_bank(world.hood, address="1 Test Road", name="Gate 3 lockers")
    compartment = make.compartment(bank, label="B7")
    compartment.status = CompartmentStatus.OCCUPIED
    parcel = Parcel(
        order_id=order.id,
        window_id=order.window_id,
        resident_id=order.resident_id,
        neighborhood_id=world.hood.id,
        temperature_class=compartment.zone,
        volume_ml=2000,
        weight_g=800,
        compartment_size=compartment.size,
        bank_id=bank.id,
        compartment_id=compartment.id,
        status=ParcelStatus.READY_FOR_PICKUP,
        pickup_deadline=utcnow() + timedelta(hours=20),
    )
    db.add(parcel)
    db.flush()
    codes.ensure_pickup_code(db_session=db, parcel=parcel)
    return parcel


def test_the_owner_sees_the_pickup_code_and_its_qr(  # type: ignore[no-untyped-def]
    page_client_for, db: Session, make: Factory, world: World
) -> None:
    order = make.order(world.resident, [(world.gb, 2)], status=OrderStatus.READY_FOR_PICKUP)
    parcel = _parcel_in_locker(db, make, world, order)
    code = codes.pickup_code_for_parcel(db_session=db, parcel_id=parcel.id)
    assert code
    page = page_client_for(world.resident).get(f"/my-orders/{order.id}")
    assert page.status_code == 200
    assert code in page.text and "<svg" in page.text
    assert "Gate 3 lockers" in page.text and "Compartment B7" in page.text
    assert 'class="done"' in page.text and "In the locker" in page.text
    neighbour = page_client_for(make.resident(world.hood)).get(f"/my-orders/{order.id}")
    assert neighbour.status_code == 404 and code not in neighbour.text


def test_a_failed_group_shows_its_refund(  # type: ignore[no-untyped-def]
    page_client_for, make: Factory, world: World
) -> None:
    order = make.order(world.resident, [(world.gb, 2)], status=OrderStatus.GROUP_FAILED)
    order.paid_minor = 2400
    page = page_client_for(world.resident).get(f"/my-orders/{order.id}")
    assert "Group did not form" in page.text and "Refunded ¥24.00" in page.text
    assert "Cancel order" not in page.text


def test_a_collected_order_closes_its_timeline(  # type: ignore[no-untyped-def]
    page_client_for, make: Factory, world: World
) -> None:
    order = make.order(world.resident, [(world.gb, 1)], status=OrderStatus.COLLECTED)
    page = page_client_for(world.resident).get(f"/my-orders/{order.id}")
    assert page.text.count('class="done"') == 6
    assert 'class="now"' not in page.text and 'class="ahead"' not in page.text
