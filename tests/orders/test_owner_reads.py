"""The owners' reads that orders, payments and windows use: plain values, one query each."""

from app.catalog import queries as catalog_queries
from app.cities import queries as city_queries
from app.groupbuys import queries as groupbuy_queries
from app.neighborhoods import queries as neighborhood_queries
from app.orders import checks as order_checks
from app.orders import queries as order_queries
from app.windows import queries as window_queries


def test_reads_answer_plain_values(db, make) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin", currency="EUR")
    hood = make.neighborhood(city=city)
    window = make.window(city=city)
    product = make.product(city=city, name="Plums")
    gb = make.group_buy(neighborhood=hood, window=window, product=product, tiers=[(1, 500)])
    order = make.order(make.resident(hood), [(gb, 2)])

    assert city_queries.city_timezones(db, [city.id]) == {city.id: "Europe/Berlin"}
    assert catalog_queries.product_names(db, [product.id]) == {product.id: "Plums"}
    standing = neighborhood_queries.neighborhood_standing(db, hood.id)
    assert standing == neighborhood_queries.NeighborhoodStanding(hood.id, city.id, True)
    cutoff = window_queries.window_cutoff(db, window.id)
    assert cutoff is not None and (cutoff.city_id, cutoff.status) == (city.id, "open")
    offer = groupbuy_queries.group_buy_offers(db, [gb.id])[gb.id]
    assert (offer.entry_price_minor, offer.product_name) == (500, "Plums")
    assert offer.ordered_quantity == 2 and offer.status == "open"
    totals = order_queries.order_totals_in_city(db, order.id, city.id)
    assert totals is not None and (totals.currency, totals.paid_minor) == ("CNY", 1000)
    assert order_queries.order_totals_in_city(db, order.id, make.city().id) is None


def test_the_window_of_another_city_is_not_found_with_the_neighborhood(db, make) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood(city=make.city(currency="EUR"))
    elsewhere = make.window(city=make.city())
    found, currency, window = order_checks.neighborhood_and_window(db, hood.id, elsewhere.id)
    assert found is not None and found.id == hood.id and currency == "EUR" and window is None


def test_orders_and_revenue_counted_by_window(db, make) -> None:  # type: ignore[no-untyped-def]
    window, empty = make.window(), make.window()
    gb = make.group_buy(window=window, tiers=[(1, 500)])
    make.order(make.resident(), [(gb, 2)])
    make.order(make.resident(), [(gb, 1)], charged_minor=400)
    make.order(make.resident(), [(gb, 1)], status=order_queries.OrderStatus.CANCELLED)
    counted = order_queries.order_count_and_revenue_by_window(
        db, [window.id, empty.id], [order_queries.OrderStatus.CANCELLED]
    )
    assert counted == {window.id: (2, 1000 + 400)}
