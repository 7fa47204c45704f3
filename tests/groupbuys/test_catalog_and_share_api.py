"""The resident catalog (progress, local times, no N+1) and share links between neighbors."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.groupbuys.models import GroupBuyStatus


@contextmanager
def _count_selects(db: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = db.get_bind().engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_catalog_shows_progress_prices_and_stock(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    neighbor = make.resident(world.hood)
    make.order(neighbor, [(world.gb, 14)])
    response = client_for(world.resident).get("/catalog")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["neighborhood_id"], body["currency"], body["timezone"]) == (
        world.hood.id,
        "CNY",
        "Asia/Shanghai",
    )
    [window] = body["windows"]
    assert window["id"] == world.window.id
    assert window["is_open"] is True
    [gb] = window["group_buys"]
    assert gb["product"]["name"] == world.product.name
    assert gb["product"]["temperature_class"] == "chilled"
    assert gb["ordered_quantity"] == 14
    assert gb["min_quantity"] == 10
    assert (gb["entry_price_minor"], gb["entry_price_display"]) == (1200, "¥12.00")
    assert (gb["current_unit_price_minor"], gb["current_unit_price_display"]) == (990, "¥9.90")
    assert gb["stock_left"] == 26
    assert gb["progress"]["text"] == "14 of 20 to unlock ¥8.90"
    assert gb["progress"]["minimum_reached"] is True
    assert [t["min_quantity"] for t in gb["tiers"]] == [1, 10, 20]


def test_catalog_times_in_utc_and_in_the_city_zone(make, client_for) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Asia/Shanghai")
    hood = make.neighborhood(city=city)
    cutoff = datetime(2099, 3, 1, 22, 0, tzinfo=UTC)
    window = make.window(
        city=city,
        cutoff_at=cutoff,
        ready_by=cutoff + timedelta(hours=5),
        pickup_deadline=cutoff + timedelta(hours=29),
    )
    make.group_buy(neighborhood=hood, window=window, product=make.product(city=city))
    body = client_for(make.resident(hood)).get("/catalog").json()
    [w] = body["windows"]
    assert w["cutoff_at"] == "2099-03-01T22:00:00Z"
    assert w["cutoff_at_local"] == "2099-03-02T06:00:00+08:00"
    assert w["ready_by_local"] == "2099-03-02T11:00:00+08:00"


def test_catalog_local_times_follow_daylight_saving(make, client_for) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin", currency="EUR", country_code="DE")
    hood = make.neighborhood(city=city)
    product = make.product(city=city)
    # Europe/Berlin springs forward on 2099-03-29 (last Sunday of March).
    before = datetime(2099, 3, 28, 5, 0, tzinfo=UTC)
    after = datetime(2099, 3, 30, 5, 0, tzinfo=UTC)
    for cutoff in (before, after):
        window = make.window(
            city=city,
            cutoff_at=cutoff,
            ready_by=cutoff + timedelta(hours=4),
            pickup_deadline=cutoff + timedelta(days=1),
        )
        make.group_buy(neighborhood=hood, window=window, product=product)
    body = client_for(make.resident(hood)).get("/catalog").json()
    assert [w["cutoff_at_local"] for w in body["windows"]] == [
        "2099-03-28T06:00:00+01:00",
        "2099-03-30T07:00:00+02:00",
    ]
    assert body["windows"][0]["group_buys"][0]["entry_price_display"] == "€12.00"


def test_catalog_lists_only_open_windows_and_my_neighborhood(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    past = make.window(cutoff_in=timedelta(minutes=-10))
    make.group_buy(neighborhood=world.hood, window=past)
    make.group_buy(window=world.window)  # another neighborhood, same window
    later = make.window(cutoff_in=timedelta(days=1))
    later_gb = make.group_buy(neighborhood=world.hood, window=later)
    body = client_for(world.resident).get("/catalog").json()
    assert [w["id"] for w in body["windows"]] == [world.window.id, later.id]
    assert [[g["id"] for g in w["group_buys"]] for w in body["windows"]] == [
        [world.gb.id],
        [later_gb.id],
    ]
    # One window, open or not, on request.
    one = client_for(world.resident).get("/catalog", params={"window_id": past.id}).json()
    assert [w["id"] for w in one["windows"]] == [past.id]
    assert one["windows"][0]["is_open"] is False


def test_catalog_window_errors(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.resident)
    unknown = client.get("/catalog", params={"window_id": 999_999})
    assert unknown.status_code == 404
    assert unknown.json()["detail"][0]["loc"] == ["query", "window_id"]
    foreign = make.window(city=make.city())
    assert client.get("/catalog", params={"window_id": foreign.id}).status_code == 404
    bad = client.get("/catalog", params={"window_id": "soon"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "window_id"]


def test_formed_group_buys_show_their_final_price(world, make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    world.gb.status = GroupBuyStatus.FORMED
    world.gb.final_unit_price_minor = 890
    db.flush()
    body = client_for(world.resident).get("/catalog", params={"window_id": world.window.id}).json()
    gb = body["windows"][0]["group_buys"][0]
    assert (gb["status"], gb["current_unit_price_minor"]) == ("formed", 890)


def _catalog_selects(make: Any, client_for: Any, db: Session, group_buys: int, windows: int) -> int:
    hood = make.neighborhood()
    for _ in range(windows):
        window = make.window()
        for _ in range(group_buys):
            make.group_buy(neighborhood=hood, window=window)
    client = client_for(make.resident(hood))
    db.expire_all()
    with _count_selects(db) as statements:
        response = client.get("/catalog")
    assert response.status_code == 200
    assert sum(len(w["group_buys"]) for w in response.json()["windows"]) == group_buys * windows
    return len(statements)


def test_catalog_has_no_n_plus_1(make, client_for, db) -> None:  # type: ignore[no-untyped-def]
    small = _catalog_selects(make, client_for, db, group_buys=1, windows=1)
    large = _catalog_selects(make, client_for, db, group_buys=30, windows=2)
    assert large == small
    # caller, neighborhood+city, windows, group buys+products, tiers
    assert large <= 5


# --- share links -----------------------------------------------------------------------------


def test_share_link_opens_for_a_neighbor(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    link = client_for(world.resident).get(f"/group-buys/{world.gb.id}/share")
    assert link.status_code == 200
    token = link.json()["token"]
    assert link.json()["url"].endswith(f"/share/{token}")
    neighbor = client_for(make.resident(world.hood))
    opened = neighbor.get(f"/share/{token}")
    assert opened.status_code == 200, opened.text
    window = opened.json()["window"]
    assert window["id"] == world.window.id
    assert [g["id"] for g in window["group_buys"]] == [world.gb.id]
    assert window["group_buys"][0]["progress"]["text"] == "0 of 10 to unlock ¥9.90"


def test_share_link_is_404_for_another_neighborhood(world, make, client_for) -> None:  # type: ignore[no-untyped-def]
    outsider = client_for(make.resident(make.neighborhood()))
    assert outsider.get(f"/share/{world.gb.share_token}").status_code == 404
    assert outsider.get(f"/group-buys/{world.gb.id}/share").status_code == 404
    assert outsider.get("/share/not-a-token").status_code == 404
    assert outsider.get("/share/" + "x" * 65).status_code == 422


def test_share_role_checks(world, operator_client, anon_client) -> None:  # type: ignore[no-untyped-def]
    assert operator_client.get(f"/group-buys/{world.gb.id}/share").status_code == 403
    assert operator_client.get(f"/share/{world.gb.share_token}").status_code == 403
    assert operator_client.get("/catalog").status_code == 403
    assert anon_client.get(f"/share/{world.gb.share_token}").status_code == 401
    assert anon_client.get("/catalog").status_code == 401


def test_ids_beyond_the_database_range_are_422_not_500(world, client_for, operator_client) -> None:  # type: ignore[no-untyped-def]
    huge = 10**20
    resident = client_for(world.resident)
    assert resident.get("/catalog", params={"window_id": huge}).status_code == 422
    assert resident.get(f"/group-buys/{huge}/share").status_code == 422
    assert operator_client.get(f"/group-buys/{huge}").status_code == 422
    assert operator_client.get("/group-buys", params={"window_id": huge}).status_code == 422
    assert operator_client.post(f"/windows/{huge}/close").status_code == 422
    body = {
        "neighborhood_id": huge,
        "window_id": 1,
        "product_id": 1,
        "min_quantity": 1,
        "tiers": [],
    }
    assert operator_client.post("/group-buys", json=body).status_code == 422
