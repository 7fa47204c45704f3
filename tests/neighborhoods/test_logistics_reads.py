"""The neighborhoods' reads and claim that logistics uses: plain values and subqueries."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import claims
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.models import CompartmentStatus
from tests.factories import Factory

T, S = TemperatureClass, CompartmentSize


def test_free_compartments_are_read_claimed_once_and_counted(db: Session, make: Factory) -> None:
    city = make.city()
    hood = make.neighborhood(city)
    bank = make.locker_bank(hood)
    small = make.compartment(bank, size=S.S, zone=T.FROZEN, inner_volume_ml=18_000)
    big = make.compartment(bank, size=S.L, zone=T.CHILLED)
    make.compartment(bank, size=S.S, zone=T.FROZEN, status=CompartmentStatus.OCCUPIED)
    free = claims.free_compartments_of_banks(db, [bank.id])
    assert sorted(free, key=lambda c: c.id) == [
        claims.FreeCompartment(small.id, bank.id, T.FROZEN, S.S),
        claims.FreeCompartment(big.id, bank.id, T.CHILLED, S.L),
    ]
    counts = neighborhood_queries.free_compartment_counts_in_neighborhood(db, hood.id)
    assert counts == {(T.FROZEN, S.S): 1, (T.CHILLED, S.L): 1}
    smallest = neighborhood_queries.smallest_inner_volumes_in_city(db, city.id)
    assert smallest[(T.FROZEN, S.S)] == 18_000
    assert claims.claim_free_compartments(db, [small.id]) == {small.id}
    assert claims.claim_free_compartments(db, [small.id, big.id]) == {big.id}
    assert claims.free_compartments_of_banks(db, [bank.id]) == []
    assert neighborhood_queries.free_compartment_counts_in_neighborhood(db, hood.id) == {}


def test_bank_sites_points_and_subqueries(db: Session, make: Factory) -> None:
    city = make.city()
    served, closed = make.neighborhood(city), make.neighborhood(city, active=False)
    bank, other = make.locker_bank(served), make.locker_bank(closed)
    make.locker_bank(make.neighborhood(make.city()))
    sites = neighborhood_queries.bank_sites_in_city(db, city.id)
    assert [(s.id, s.neighborhood_id, s.neighborhood_active) for s in sites] == [
        (bank.id, served.id, True),
        (other.id, closed.id, False),
    ]
    points = neighborhood_queries.neighborhood_points_in_city(db, city.id)
    assert points == {served.id: (served.lat, served.lon), closed.id: (closed.lat, closed.lon)}
    chilled = make.compartment(bank, zone=T.CHILLED, label="C01")
    make.compartment(bank, zone=T.FROZEN)
    in_zone = neighborhood_queries.compartment_ids_in_bank_zone(bank.id, "chilled")
    assert list(db.scalars(in_zone)) == [chilled.id]
    labels = neighborhood_queries.compartment_label_query().subquery()
    assert db.scalar(select(labels.c.label).where(labels.c.id == chilled.id)) == "C01"
    city_of = neighborhood_queries.neighborhood_city_query(served.id)
    assert db.scalar(select(city_of)) == city.id
