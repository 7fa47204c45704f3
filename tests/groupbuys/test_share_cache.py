"""The share preview (residents poll it for progress) from the catalog's cache: what it sends
equals the catalog's card of that group buy, a warm read costs three statements, and orders
and the cut-off show at once."""

from datetime import timedelta
from typing import Any

from app.core.db import utcnow
from app.groupbuys import catalog_cache
from tests.groupbuys.test_catalog_cache import _statements
from tests.orders.ordering import place


def test_the_preview_is_the_catalogs_card_of_the_group_buy(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    other = make.group_buy(neighborhood=world.hood, window=world.window)
    make.order(make.resident(world.hood), [(world.gb, 14), (other, 2)])
    client = client_for(world.resident)
    first = client.get(f"/share/{world.gb.share_token}")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    again = client.get(f"/share/{world.gb.share_token}")
    assert again.content == first.content
    [window] = client.get("/catalog", params={"window_id": world.window.id}).json()["windows"]
    card = next(gb for gb in window["group_buys"] if gb["id"] == world.gb.id)
    assert first.json() == {"window": {**window, "group_buys": [card]}}
    assert card["ordered_quantity"] == 14
    other_preview = client.get(f"/share/{other.share_token}").json()
    assert [gb["id"] for gb in other_preview["window"]["group_buys"]] == [other.id]


def test_a_warm_preview_costs_three_statements(world, client_for, db) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    client.get(f"/share/{world.gb.share_token}")
    with _statements(db) as statements:
        response = client.get(f"/share/{world.gb.share_token}")
    assert response.status_code == 200
    # the caller, the shared group buy, the state of its window
    assert len(statements) <= 3, statements


def test_orders_move_the_previews_progress(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)

    def ordered() -> Any:
        response = client.get(f"/share/{world.gb.share_token}")
        assert response.status_code == 200, response.text
        return response.json()["window"]["group_buys"][0]["ordered_quantity"]

    assert ordered() == ordered() == 0
    assert place(client, world.window.id, [(world.gb.id, 12)]).status_code == 201
    assert ordered() == 12


def test_a_cut_off_passing_closes_the_cached_preview(world, db) -> None:  # type: ignore[no-untyped-def]
    cache = catalog_cache.CatalogCache()

    def is_open(now: Any) -> bool:
        body = catalog_cache.shared_json(
            db_session=db, cache=cache, resident=world.resident, token=world.gb.share_token, now=now
        )
        return b'"is_open":true' in body

    assert is_open(utcnow()) and is_open(utcnow())
    assert not is_open(world.window.cutoff_at + timedelta(seconds=1))


def test_another_neighborhoods_resident_and_unknown_tokens_get_404(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    assert client.get(f"/share/{world.gb.share_token}").status_code == 200
    elsewhere = client_for(make.resident(make.neighborhood()))
    for answer in (
        elsewhere.get(f"/share/{world.gb.share_token}"),
        client.get("/share/no-such-token"),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"][0]["loc"][-1] == "token"
