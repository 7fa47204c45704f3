"""The depot's lists after a real cut-off: the pick list's totals are the parcels' lines added
up, the packing list holds every parcel by van and pickup point, both as Excel-ready CSV."""

import csv
import io
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.orders.models import OrderLine
from app.windows.models import WindowStatus
from ops_dashboard import depot_lists
from tests.factories import Factory
from tests.ops_dashboard.test_parcels_city import cut_city


def _rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_pick_list_totals_match_the_parcels(db: Session, make: Factory) -> None:
    city = cut_city(db, make)
    window_id = city.world.window.id
    picks = depot_lists.pick_list(db, window_id)
    by_sku = {p.sku: p for p in picks}
    assert by_sku[city.world.chilled.sku].quantity == 2 * len(city.orders)
    assert by_sku[city.world.frozen.sku].quantity == len(city.orders)
    assert [p.temperature_class for p in picks] == ["frozen", "chilled"]
    loads = depot_lists.packing_list(db, window_id)
    packed: Counter[str] = Counter()
    seen: set[tuple[int, str]] = set()
    for load in loads:
        for point in load.points:
            for parcel in point.parcels:
                if (parcel.order_id, parcel.temperature_class) not in seen:
                    seen.add((parcel.order_id, parcel.temperature_class))
                    for sku, _, quantity in parcel.lines:
                        packed[sku] += quantity
    assert packed == {p.sku: p.quantity for p in picks}
    lines = db.execute(select(Product.sku, OrderLine.quantity).join(OrderLine)).all()
    assert sum(q for _, q in lines) == sum(p.quantity for p in picks)


def test_packing_list_groups_every_parcel_by_van_and_pickup_point(
    db: Session, make: Factory
) -> None:
    city = cut_city(db, make)
    loads = depot_lists.packing_list(db, city.world.window.id)
    listed = [p for load in loads for point in load.points for p in point.parcels]
    assert sorted(p.parcel_id for p in listed) == [p.id for p in city.parcels]
    assert all(load.code.startswith("VAN-") for load in loads)
    for load in loads:
        stops = [point.stop for point in load.points]
        assert stops == sorted(stops) and len({point.bank_id for point in load.points}) == len(
            stops
        )
    assert all(p.compartment and p.name == "T***" for p in listed)
    vans = depot_lists.vans(db, city.world.window.id)
    assert sum(n for _, _, n in vans) == len(city.parcels)
    one = depot_lists.packing_list(db, city.world.window.id, vans[0][0])
    assert sum(load.parcel_count for load in one) == vans[0][2]


def test_mask_name_keeps_the_first_character() -> None:
    assert depot_lists.mask_name("王小明") == "王**"
    assert depot_lists.mask_name("Alexander Smith") == "A***"
    assert depot_lists.mask_name("") == ""


def test_the_csv_files_are_excel_ready_and_match_the_page(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, page_client_for
) -> None:
    city = cut_city(db, make)
    city.world.chilled.name_zh = "上海青"
    db.flush()
    client = page_client_for(city.operator)
    window_id = city.world.window.id
    answer = client.get(f"/ops/depot/{window_id}/pick-list.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f'-{window_id}.csv"' in disposition
    rows = _rows(answer.content)
    assert {r["sku"]: int(r["quantity"]) for r in rows} == {
        city.world.chilled.sku: 2 * len(city.orders),
        city.world.frozen.sku: len(city.orders),
    }
    assert "上海青" in answer.content.decode("utf-8-sig")
    assert f",{2 * len(city.orders)}\r\n" in answer.text  # a number, not a quoted string
    packing = client.get(f"/ops/depot/{window_id}/packing-list.csv")
    packed = _rows(packing.content)
    assert {int(r["parcel_id"]) for r in packed} == {p.id for p in city.parcels}
    assert sum(int(r["quantity"]) for r in packed) == sum(int(r["quantity"]) for r in rows)
    page = client.get(f"/ops/depot?window_id={window_id}&van=all").text
    assert page.count('class="van-load print-break"') == len(depot_lists.vans(db, window_id))
    assert 'id="print"' in page and f"/ops/depot/{window_id}/pick-list.csv" in page
    for parcel in city.parcels:
        assert f'data-parcel-id="{parcel.id}"' in page


def test_an_open_window_has_no_lists_yet(  # type: ignore[no-untyped-def]
    db: Session, make: Factory, page_client_for, operator
) -> None:
    window = make.window()
    assert window.status == WindowStatus.OPEN
    client = page_client_for(operator)
    page = client.get(f"/ops/depot?window_id={window.id}")
    assert page.status_code == 200 and "not closed yet" in page.text
    refused = client.get(f"/ops/depot/{window.id}/pick-list.csv")
    assert refused.status_code == 409 and "window_id" in refused.json()["detail"][0]["loc"]


def test_bad_depot_input_names_the_field(  # type: ignore[no-untyped-def]
    page_client_for, operator, other_city_operator, make: Factory
) -> None:
    client = page_client_for(operator)
    assert client.get("/ops/depot").status_code == 200
    for url, field in (
        ("/ops/depot?window_id=abc", "window_id"),
        ("/ops/depot?window_id=0", "window_id"),
        ("/ops/depot?van=x1", "van"),
        ("/ops/depot/abc/pick-list.csv", "window_id"),
    ):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert field in answer.text, url
    foreign = make.window(city=make.city())
    answer = client.get(f"/ops/depot/{foreign.id}/packing-list.csv")
    assert answer.status_code == 404 and "window_id" in answer.json()["detail"][0]["loc"]
