"""The owners' read functions lockers and the lockers pages use: banks, compartments, bank
states, events, commands and excursions as values, orders walked."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.models import CompartmentStatus
from app.orders import states as order_states
from app.orders.models import OrderStatus
from lockers import command_queue, protocol
from lockers import queries as locker_queries
from lockers.models import ColdChainExcursion, LockerBankState, LockerEvent, ParcelColdChainFlag
from logistics import queries as logistics_queries
from logistics.models import ParcelStatus
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


def test_bank_state_events_commands_and_excursions_read_as_values(w: World, db: Session) -> None:
    now = utcnow()
    parcel = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    reported = {"zones": {"chilled": 9.5}, "compartments": {"A2": {"door": "jammed"}}}
    db.add(LockerBankState(bank_id=w.bank.id, online=True, last_seen_at=now, state=reported))
    for seq, compartment in enumerate(("A1", "A2")):
        db.add(
            LockerEvent(
                bank_id=w.bank.id,
                event_id=f"e{seq}",
                type="door_opened",
                seq=seq,
                locker_ts=now,
                received_at=now,
                payload={"compartment": compartment},
            )
        )
    excursion = ColdChainExcursion(
        bank_id=w.bank.id,
        zone=TemperatureClass.CHILLED,
        limit_c=8.0,
        started_at=now - timedelta(minutes=40),
        last_reading_at=now,
        max_temp_c=9.5,
        alarm_at=now - timedelta(minutes=10),
    )
    db.add(excursion)
    db.flush()
    db.add(ParcelColdChainFlag(parcel_id=parcel.id, excursion_id=excursion.id, minutes_out=10))
    command = command_queue.queue_command(
        db_session=db,
        bank_id=w.bank.id,
        kind=protocol.CommandType.OPEN_COMPARTMENT,
        args={"compartment": "A1"},
        ttl_seconds=60,
    )
    db.flush()

    link = locker_queries.bank_links(db, [w.bank.id, 999999])
    assert list(link) == [w.bank.id] and link[w.bank.id].online
    assert link[w.bank.id].state == reported
    assert (w.bank.id, reported) in locker_queries.online_bank_reports(db)
    assert w.bank.id not in locker_queries.offline_banks_since(db)
    newest = locker_queries.newest_bank_events(db, w.bank.id, 1)
    assert [e.payload["compartment"] for e in newest] == ["A2"]
    opened = locker_queries.bank_events_of_type_since(
        db, [w.bank.id], "door_opened", now - timedelta(minutes=1)
    )
    assert [e.payload["compartment"] for e in opened] == ["A1", "A2"]
    alarmed = [e for e in locker_queries.open_alarmed_excursions(db) if e.id == excursion.id]
    assert [(e.zone, e.flagged_parcels) for e in alarmed] == [("chilled", 1)]
    assert locker_queries.open_excursion_zones(db, [w.bank.id]) == {(w.bank.id, "chilled")}
    view = locker_queries.bank_command(db, command.id)
    assert view is not None and view.bank_id == w.bank.id
    assert view.status == locker_queries.CommandStatus.QUEUED
    assert view.payload.get("compartment") == "A1"
    assert locker_queries.bank_command(db, "no-such-command") is None


def test_banks_of_a_city_and_their_parcels_read_as_values(w: World, db: Session) -> None:
    ready = w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    w.parcel("A2")
    ready.failure_reason = "locker_offline: refused"
    ready.status = ParcelStatus.UNDELIVERED
    db.flush()
    codes = neighborhood_queries.bank_codes_and_cities(db, [w.bank.id])
    assert codes[w.bank.id] == neighborhood_queries.BankCodeAndCity(w.bank.code, w.hood.city_id)
    banks = neighborhood_queries.city_banks_with_neighborhood_names(db, w.hood.city_id)
    assert [(bank.id, name) for bank, name in banks] == [(w.bank.id, w.hood.name)]
    counts = neighborhood_queries.compartment_counts_by_bank_zone_status(db, [w.bank.id])
    assert (w.bank.id, "chilled", "reserved", 1) in counts
    assert sum(n for *_, n in counts) == len(w.compartments)
    parcel_counts = logistics_queries.parcel_counts_by_bank_and_status(
        db, [w.bank.id], [ParcelStatus.RESERVED, ParcelStatus.UNDELIVERED]
    )
    assert sorted(parcel_counts) == [
        (w.bank.id, ParcelStatus.RESERVED, 1),
        (w.bank.id, ParcelStatus.UNDELIVERED, 1),
    ]
    turned_away = logistics_queries.undelivered_parcel_times_at_banks(
        db, [w.bank.id], "locker_offline"
    )
    assert [bank_id for bank_id, _ in turned_away] == [w.bank.id]
    points = neighborhood_queries.active_neighborhood_points(db, w.hood.city_id)
    assert [(p.id, p.name) for p in points] == [(w.hood.id, w.hood.name)]
