"""The owners' read functions lockers uses: banks and compartments as values, orders walked."""

from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.models import CompartmentStatus
from app.orders import states as order_states
from app.orders.models import OrderStatus
from lockers import queries as locker_queries
from tests.lockers.conftest import World


def test_banks_and_compartments_read_as_values(w: World, db: Session) -> None:
    banks = neighborhood_queries.locker_banks_by_ids(db_session=db, bank_ids=[w.bank.id, 999999])
    assert list(banks) == [w.bank.id] and banks[w.bank.id].code == w.bank.code
    assert (
        neighborhood_queries.locker_bank_by_code(db_session=db, code=w.bank.code)
        == banks[w.bank.id]
    )
    assert neighborhood_queries.bank_city_id(db_session=db, bank_id=w.bank.id) == w.hood.city_id
    a1 = neighborhood_queries.compartment_by_label(db_session=db, bank_id=w.bank.id, label="A1")
    assert a1 is not None and a1.id == w.compartments["A1"].id and a1.zone == "chilled"
    labels = neighborhood_queries.compartments_of_banks(db_session=db, bank_ids=[w.bank.id])
    assert [c.label for c in labels[w.bank.id]] == ["A1", "A2", "A3", "F1", "R1"]


def test_free_compartments_and_labels_in_status(w: World, db: Session) -> None:
    w.compartments["A2"].status = CompartmentStatus.OUT_OF_SERVICE
    db.flush()
    free = neighborhood_queries.count_free_compartments(
        db_session=db,
        bank_id=w.bank.id,
        zone=TemperatureClass.CHILLED,
        size=CompartmentSize.M,
        excluding_id=w.compartments["A1"].id,
    )
    assert free == 1
    assert neighborhood_queries.compartment_labels_in_status(
        db_session=db, bank_id=w.bank.id, status=CompartmentStatus.OUT_OF_SERVICE
    ) == ["A2"]


def test_an_order_walks_the_happy_path_to_its_target(w: World, db: Session) -> None:
    parcel = w.parcel("A1", order_status=OrderStatus.CONFIRMED)
    state = order_states.walk_to(
        db_session=db, order_id=parcel.order_id, target=OrderStatus.READY_FOR_PICKUP
    )
    assert state is not None and state.status == OrderStatus.READY_FOR_PICKUP
    assert order_states.walk_to(db_session=db, order_id=999999, target=None) is None


def test_no_parcel_waits_for_a_door_without_a_deposit_command(w: World, db: Session) -> None:
    parcel = w.parcel("A1")
    assert (
        locker_queries.parcels_waiting_for_deposit_door(db_session=db, parcel_ids=[parcel.id])
        == set()
    )
