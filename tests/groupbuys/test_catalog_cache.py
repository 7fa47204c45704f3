"""The residents' catalog from each worker's cache: what it sends equals the catalog read afresh,
a warm read costs two statements, and every write that changes what it shows is seen at once."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.db import get_db, utcnow
from app.groupbuys import catalog_cache, resident_catalog
from app.main import create_app
from tests.conftest import token_for
from tests.orders.ordering import place

Read = Callable[[], dict[str, Any]]


@contextmanager
def _statements(db: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = db.get_bind().engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _window_reader(client: TestClient, window_id: int) -> Read:
    def read() -> dict[str, Any]:
        response = client.get("/catalog", params={"window_id": window_id})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return read


def _warm(read: Read) -> dict[str, Any]:
    """Read twice (the second from the cache); both the same."""
    first = read()
    assert read() == first
    return first


def _group_buy(body: dict[str, Any]) -> dict[str, Any]:
    [window] = body["windows"]
    [gb] = window["group_buys"]
    return gb  # type: ignore[no-any-return]


def test_the_cached_catalog_is_the_catalog_byte_for_byte(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    make.order(make.resident(world.hood), [(world.gb, 14)])
    later = make.window(cutoff_in=timedelta(days=1))
    make.group_buy(neighborhood=world.hood, window=later)
    cache = catalog_cache.CatalogCache()
    for window_id in (None, world.window.id):
        fresh = resident_catalog.catalog(
            db_session=db, resident=world.resident, window_id=window_id
        ).model_dump_json()
        for _ in range(2):  # rendered, then from the cache
            sent = catalog_cache.catalog_json(
                db_session=db,
                cache=cache,
                neighborhood_id=world.hood.id,
                window_id=window_id,
            )
            assert sent == fresh.encode()
    client = client_for(world.resident)
    assert client.get("/catalog").content == client.get("/catalog").content
    assert client.get("/catalog").headers["content-type"] == "application/json"


def test_a_warm_catalog_read_costs_two_statements(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        make.group_buy(neighborhood=world.hood, window=world.window)
    client = client_for(world.resident)
    for params in ({"window_id": world.window.id}, {}):
        client.get("/catalog", params=params)
        with _statements(db) as statements:
            response = client.get("/catalog", params=params)
        assert response.status_code == 200
        # the caller (with its signed-out check), then the catalog's state
        assert len(statements) <= 2, statements


def test_a_cut_off_passing_closes_the_cached_window(world, db) -> None:  # type: ignore[no-untyped-def]
    cache = catalog_cache.CatalogCache()

    def is_open(now: Any) -> bool:
        body = catalog_cache.catalog_json(
            db_session=db,
            cache=cache,
            neighborhood_id=world.hood.id,
            window_id=world.window.id,
            now=now,
        )
        return b'"is_open":true' in body

    assert is_open(utcnow()) and is_open(utcnow())
    assert not is_open(world.window.cutoff_at + timedelta(seconds=1))


def test_orders_and_cancels_move_the_progress(world, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    read = _window_reader(client, world.window.id)
    assert _group_buy(_warm(read))["ordered_quantity"] == 0
    placed = place(client, world.window.id, [(world.gb.id, 12)])
    assert placed.status_code == 201, placed.text
    shown = _group_buy(read())
    assert (shown["ordered_quantity"], shown["stock_left"]) == (12, 28)
    assert shown["progress"]["minimum_reached"] is True
    _warm(read)
    assert client.post(f"/orders/{placed.json()['id']}/cancel").status_code == 200
    assert _group_buy(read())["ordered_quantity"] == 0


def test_operator_changes_to_a_group_buy_show(world, client_for, operator_client) -> None:  # type: ignore[no-untyped-def]
    read = _window_reader(client_for(world.resident), world.window.id)
    _warm(read)
    url = f"/group-buys/{world.gb.id}"
    tiers = [
        {"min_quantity": 1, "unit_price_minor": 1100},
        {"min_quantity": 5, "unit_price_minor": 950},
    ]
    assert operator_client.patch(url, json={"tiers": tiers}).status_code == 200
    shown = _group_buy(read())
    assert [t["unit_price_minor"] for t in shown["tiers"]] == [1100, 950]
    assert shown["entry_price_minor"] == 1100
    _warm(read)
    assert operator_client.patch(url, json={"min_quantity": 3}).status_code == 200
    assert _group_buy(read())["min_quantity"] == 3
    _warm(read)
    assert operator_client.patch(url, json={"stock_cap": 30}).status_code == 200
    assert _group_buy(read())["stock_left"] == 30


def test_group_buys_created_deleted_and_recreated_show(
    world, make, client_for, operator_client
) -> None:  # type: ignore[no-untyped-def]
    read = _window_reader(client_for(world.resident), world.window.id)
    _warm(read)
    product = make.product()
    body = {
        "neighborhood_id": world.hood.id,
        "window_id": world.window.id,
        "product_id": product.id,
        "min_quantity": 4,
        "tiers": [{"min_quantity": 1, "unit_price_minor": 700}],
    }
    created = operator_client.post("/group-buys", json=body)
    assert created.status_code == 201, created.text
    assert len(_warm(read)["windows"][0]["group_buys"]) == 2
    # Deleted and created again between two reads, with other tiers: as many group buys as
    # before (on SQLite even the same id), and the new tiers.
    assert operator_client.delete(f"/group-buys/{created.json()['id']}").status_code == 204
    body["tiers"] = [{"min_quantity": 1, "unit_price_minor": 650}]
    assert operator_client.post("/group-buys", json=body).status_code == 201
    offered = {g["product"]["id"]: g for g in _warm(read)["windows"][0]["group_buys"]}
    assert offered[product.id]["entry_price_minor"] == 650
    [again] = [g for g in offered.values() if g["product"]["id"] == product.id]
    assert operator_client.delete(f"/group-buys/{again['id']}").status_code == 204
    assert [g["id"] for g in read()["windows"][0]["group_buys"]] == [world.gb.id]


def test_closing_the_window_shows_the_outcome(world, make, client_for, operator_client) -> None:  # type: ignore[no-untyped-def]
    window = make.window(cutoff_in=timedelta(minutes=-2))
    make.group_buy(neighborhood=world.hood, window=window, min_quantity=5)
    read = _window_reader(client_for(world.resident), window.id)
    before = _warm(read)
    assert (before["windows"][0]["status"], _group_buy(before)["status"]) == ("open", "open")
    assert operator_client.post(f"/windows/{window.id}/close").status_code == 200
    after = read()
    assert (after["windows"][0]["status"], _group_buy(after)["status"]) == ("closed", "failed")


def test_product_window_neighborhood_and_city_edits_show(
    world, client_for, operator_client
) -> None:  # type: ignore[no-untyped-def]
    read = _window_reader(client_for(world.resident), world.window.id)
    _warm(read)
    changed = {"name": "Blood oranges", "price_minor": 1500, "unit": "1 kg"}
    assert operator_client.patch(f"/products/{world.product.id}", json=changed).status_code == 200
    product = _group_buy(read())["product"]
    assert (product["name"], product["list_price_minor"], product["unit"]) == (
        "Blood oranges",
        1500,
        "1 kg",
    )
    _warm(read)
    cutoff = (world.window.cutoff_at + timedelta(minutes=30)).isoformat()
    assert (
        operator_client.patch(f"/windows/{world.window.id}", json={"cutoff_at": cutoff}).status_code
        == 200
    )
    assert read()["windows"][0]["cutoff_at"].startswith(cutoff[:16])
    _warm(read)
    renamed = operator_client.patch(f"/neighborhoods/{world.hood.id}", json={"name": "Elm Court"})
    assert renamed.status_code == 200
    assert read()["neighborhood_name"] == "Elm Court"
    _warm(read)
    moved = operator_client.patch(f"/cities/{world.city.id}", json={"timezone": "Asia/Tokyo"})
    assert moved.status_code == 200
    shown = read()
    assert shown["timezone"] == "Asia/Tokyo"
    assert shown["windows"][0]["cutoff_at_local"].endswith("+09:00")


def test_each_worker_sees_the_others_writes(world, db) -> None:  # type: ignore[no-untyped-def]
    """Two applications (two workers, each with its own cache) on one database."""

    def worker() -> TestClient:
        def same_session() -> Iterator[Session]:
            yield db

        application = create_app()
        application.dependency_overrides[get_db] = same_session
        headers = {"Authorization": f"Bearer {token_for(world.resident)}"}
        return TestClient(application, headers=headers)

    with worker() as first, worker() as second:
        read_first = _window_reader(first, world.window.id)
        read_second = _window_reader(second, world.window.id)
        _warm(read_first)
        _warm(read_second)
        assert place(first, world.window.id, [(world.gb.id, 3)]).status_code == 201
        assert _group_buy(read_second())["ordered_quantity"] == 3
        assert _group_buy(read_first())["ordered_quantity"] == 3


def test_the_cache_keeps_the_most_recently_used_windows(world, make, db) -> None:  # type: ignore[no-untyped-def]
    cache = catalog_cache.CatalogCache(max_windows=2)
    windows = [world.window, make.window(), make.window()]
    for window in windows:
        make.group_buy(neighborhood=world.hood, window=window)
        catalog_cache.catalog_json(
            db_session=db, cache=cache, neighborhood_id=world.hood.id, window_id=window.id
        )
    assert len(cache) == 2
