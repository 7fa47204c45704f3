"""The owners' read functions other packages use: plain values, batched by id."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cities import queries as cities_queries
from app.groupbuys import queries as groupbuys_queries
from app.groupbuys.pricing import Tier
from app.neighborhoods import queries as neighborhoods_queries
from app.residents import queries as residents_queries
from tests.factories import Factory


def test_resident_contacts_consent_and_city(db: Session, make: Factory) -> None:
    city, other = make.city(), make.city()
    hood = make.neighborhood(city)
    texted, refused = make.resident(hood), make.resident(hood, sms_consent=False)
    elsewhere = make.resident(make.neighborhood(other))
    found = residents_queries.contacts(db, [texted.id, refused.id, 0])
    assert set(found) == {texted.id, refused.id}
    assert found[texted.id].phone == texted.phone and found[texted.id].neighborhood_id == hood.id
    assert residents_queries.contact_by_phone(db, refused.phone) == found[refused.id]
    assert residents_queries.ids_without_sms_consent(db, [texted.id, refused.id]) == {refused.id}
    in_city = set(db.scalars(select(residents_queries.resident_ids_in_city(city.id).subquery())))
    assert texted.id in in_city and elsewhere.id not in in_city
    assert neighborhoods_queries.neighborhood_cities(db, [hood.id]) == {hood.id: city.id}
    assert cities_queries.city_locales(db, [city.id])[city.id].timezone == city.timezone


def test_open_group_buys_come_with_their_tiers_in_order(db: Session, make: Factory) -> None:
    window = make.window()
    gb = make.group_buy(window=window, tiers=[(1, 1200), (5, 1000)])
    [standing] = groupbuys_queries.open_group_buys_of_window(db, window.id)
    assert (standing.id, standing.min_quantity) == (gb.id, gb.min_quantity)
    assert standing.tiers == (Tier(1, 1200), Tier(5, 1000))
