"""The owners' read functions the parcels and depot pages use, after a real cut-off."""

from sqlalchemy.orm import Session

from app.catalog.queries import product_labels
from app.core.db import utcnow
from app.groupbuys.queries import group_buy_outcomes
from app.orders.queries import lines_of_order, orders_page, picked_quantity_by_product
from app.residents.queries import resident_contacts, resident_id_in_city
from app.windows.queries import latest_closed_window, window_view
from logistics.queries import (
    live_parcel_counts_by_route,
    order_ids_with_live_parcels,
    parcel_statuses_by_order,
)
from tests.factories import Factory
from tests.ops_dashboard.test_parcels_city import cut_city


def test_owner_reads_answer_in_plain_values(db: Session, make: Factory) -> None:
    city = cut_city(db, make)
    window_id, city_id = city.world.window.id, city.world.city.id
    window = window_view(db, window_id)
    assert window is not None and window.is_closed and window.city_id == city_id
    assert latest_closed_window(db, city_id, utcnow()) == window
    orders, total = orders_page(db, window_id=window_id, limit=2)
    assert (
        total == len(city.orders)
        and [o.id for o in orders] == sorted((o.id for o in city.orders), reverse=True)[:2]
    )
    statuses = parcel_statuses_by_order(db, [o.id for o in city.orders])
    assert sorted(p for ps in statuses.values() for p, _ in ps) == [p.id for p in city.parcels]
    assert sum(n for *_, n in live_parcel_counts_by_route(db, window_id)) == len(city.parcels)
    totals = picked_quantity_by_product(db, order_ids_with_live_parcels(window_id))
    assert totals == {city.world.chilled.id: 2 * total, city.world.frozen.id: total}
    assert {p.temperature_class for p in product_labels(db, totals).values()} == {
        "chilled",
        "frozen",
    }
    lines = lines_of_order(db, orders[0].id)
    outcomes = group_buy_outcomes(db, {line.group_buy_id for line in lines})
    assert set(outcomes) == {line.group_buy_id for line in lines}
    resident = resident_contacts(db, [orders[0].resident_id])[orders[0].resident_id]
    assert resident_id_in_city(db, resident.phone, city_id) == resident.id
    assert resident_id_in_city(db, resident.phone, city_id + 1000) is None
