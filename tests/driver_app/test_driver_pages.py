"""The drivers' pages over TestClient: own route only, the load check, geo: links, the action
sync (replays answer the same, refusals named), and the public files of the installable app."""

import uuid

import pytest
from sqlalchemy import select

from driver_app.settings import get_driver_app_settings
from logistics.models import Parcel, Route
from tests.logistics.test_driver_api import _published


def _post(client, route: Route, kind: str, action_id: str | None = None, **kw):  # type: ignore[no-untyped-def]
    body = {"id": action_id or str(uuid.uuid4()), "kind": kind, "route_id": route.id, **kw}
    answer = client.post("/driver/actions", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_route_with_its_load_check_stops_and_geo_links(world, db, page_client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    client = page_client_for(world.route_driver)
    home = client.get("/driver")
    assert home.status_code == 200 and f"/driver/route/{route.id}" in home.text
    page = client.get(f"/driver/route/{route.id}")
    assert page.status_code == 200
    assert 'id="load-check"' in page.text and 'data-class="chilled"' in page.text
    assert page.text.count('class="load-tick"') == 2  # chilled and frozen
    stop = sorted(route.stops, key=lambda s: s.sequence)[0]
    assert f"/driver/route/{route.id}/stop/{stop.id}" in page.text
    assert "geo:" in page.text and "google" not in page.text
    stop_page = client.get(f"/driver/route/{route.id}/stop/{stop.id}")
    assert stop_page.status_code == 200
    assert stop_page.text.count('data-act="deposit"') == 2
    assert 'value="locker_offline"' in stop_page.text
    chinese = client.get(f"/driver/route/{route.id}", cookies={"pickup_lang": "zh"})
    assert "装车核对" in chinese.text


def test_the_maps_link_follows_the_setting(world, db, page_client_for, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=1)
    monkeypatch.setenv(
        "DRIVER_MAPS_URL_TEMPLATE", "https://uri.amap.com/marker?position={lon},{lat}&name={label}"
    )
    get_driver_app_settings.cache_clear()
    try:
        page = page_client_for(world.route_driver).get(f"/driver/route/{route.id}")
    finally:
        get_driver_app_settings.cache_clear()
    assert "https://uri.amap.com/marker?position=" in page.text


def test_another_drivers_route_is_not_found(world, db, page_client_for, make) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=1)
    stranger = page_client_for(make.driver(city=world.city))
    assert stranger.get(f"/driver/route/{route.id}").status_code == 404
    assert stranger.get(f"/driver/route/{route.id}/state").status_code == 404
    body = {"id": str(uuid.uuid4()), "kind": "start", "route_id": route.id}
    assert stranger.post("/driver/actions", json=body).status_code == 404
    assert route.started_at is None


def test_actions_sync_once_and_refusals_are_named(world, db, page_client_for) -> None:  # type: ignore[no-untyped-def]
    route = _published(world, db, hoods=2)
    client = page_client_for(world.route_driver)
    first, second = sorted(route.stops, key=lambda s: s.sequence)
    start_id = str(uuid.uuid4())
    started = _post(client, route, "start", start_id)
    assert started["outcome"] == "applied" and started["state"]["status"] == "in_progress"
    replay = _post(client, route, "start", start_id)
    assert replay["replayed"] and replay["outcome"] == "applied"
    arrived = _post(client, route, "arrive", stop_id=first.id)
    assert arrived["state"]["current_stop_id"] == first.id
    early = _post(client, route, "depart", stop_id=first.id)
    assert (early["outcome"], early["error"]) == ("refused", "parcels_not_handed_over")
    parcel = db.scalar(select(Parcel).where(Parcel.route_stop_id == second.id))
    elsewhere = _post(client, route, "deposit", stop_id=second.id, parcel_id=parcel.id)
    assert (elsewhere["outcome"], elsewhere["error"]) == ("refused", "not_at_stop")
    for parcel in db.scalars(select(Parcel).where(Parcel.route_stop_id == first.id)):
        failed = _post(
            client, route, "fail", stop_id=first.id, parcel_id=parcel.id, reason="damaged"
        )
        assert failed["outcome"] == "applied"
    departed = _post(client, route, "depart", stop_id=first.id)
    assert departed["outcome"] == "applied"
    assert departed["state"]["stops"][0]["status"] == "failed"


@pytest.mark.parametrize(
    ("kind", "missing"), [("arrive", "stop_id"), ("deposit", "parcel_id"), ("fail", "reason")]
)
def test_an_action_missing_its_target_is_a_named_422(  # type: ignore[no-untyped-def]
    world, db, page_client_for, kind, missing
) -> None:
    route = _published(world, db, hoods=1)
    body = {"id": str(uuid.uuid4()), "kind": kind, "route_id": route.id, "stop_id": 1}
    if missing == "stop_id":
        del body["stop_id"]
    if missing == "reason":
        body["parcel_id"] = 1
    answer = page_client_for(world.route_driver).post("/driver/actions", json=body)
    assert answer.status_code == 422 and missing in answer.text


def test_the_installable_app_files_are_public(page_client_for) -> None:  # type: ignore[no-untyped-def]
    anonymous = page_client_for(None)
    worker = anonymous.get("/driver/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    manifest = anonymous.get("/driver/manifest.webmanifest").json()
    assert manifest["scope"] == "/driver/" and manifest["start_url"].startswith("/driver")
    assert anonymous.get("/driver/offline").status_code == 200
    assert anonymous.get("/driver/app.js").status_code == 303
