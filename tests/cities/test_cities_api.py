"""Operator API for cities, depots and window slots: validation names the field, roles hold."""

import pytest


def _error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


CITY = {"name": "Hangzhou", "timezone": "Asia/Shanghai", "currency": "CNY", "country_code": "CN"}
SLOT = {
    "name": "morning",
    "ready_by_local": "11:00",
    "cutoff_hours_before": 5,
    "pickup_hours_after": 12,
}


def test_create_and_read_a_city(operator_client) -> None:  # type: ignore[no-untyped-def]
    created = operator_client.post("/cities", json=CITY)
    assert created.status_code == 201, created.text
    city = created.json()
    assert city["timezone"] == "Asia/Shanghai" and city["currency"] == "CNY"
    fetched = operator_client.get(f"/cities/{city['id']}").json()
    assert fetched == city


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "UTC+8", "", "../etc/passwd", "Asia"])
def test_unknown_time_zone_is_refused_naming_timezone(operator_client, zone: str) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/cities", json={**CITY, "timezone": zone}), 422)
    assert error["loc"] == ["body", "timezone"]


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYX", "C1Y", ""])
def test_bad_currency_is_refused_naming_currency(operator_client, currency: str) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/cities", json={**CITY, "currency": currency}), 422)
    assert error["loc"] == ["body", "currency"]


def test_duplicate_city_name_conflicts(operator_client) -> None:  # type: ignore[no-untyped-def]
    assert operator_client.post("/cities", json=CITY).status_code == 201
    error = _error(operator_client.post("/cities", json=CITY), 409)
    assert error["loc"] == ["body", "name"]


def test_unknown_field_is_refused(operator_client) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/cities", json={**CITY, "colour": "red"}), 422)
    assert error["loc"] == ["body", "colour"]


def test_patch_city_changes_only_what_is_sent(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    updated = operator_client.patch(f"/cities/{city.id}", json={"timezone": "Europe/Berlin"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["timezone"] == "Europe/Berlin"
    assert updated.json()["name"] == city.name


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"timezone": "Nowhere/Town"}, "timezone"),
        ({"currency": "EUR"}, "currency"),
        ({"country_code": "cn"}, "country_code"),
    ],
)
def test_patch_city_refuses_bad_changes(operator_client, make, body, field) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    error = _error(operator_client.patch(f"/cities/{city.id}", json=body), 422)
    assert error["loc"] == ["body", field]


def test_create_a_city_with_depots_and_schedule(operator_client) -> None:  # type: ignore[no-untyped-def]
    body = {
        **CITY,
        "depots": [{"name": "Xiaoshan Cold Store", "lat": 30.18, "lon": 120.26}],
        "window_slots": [
            {**SLOT, "name": "evening", "ready_by_local": "18:00"},
            SLOT,
        ],
    }
    created = operator_client.post("/cities", json=body)
    assert created.status_code == 201, created.text
    city = created.json()
    assert [d["name"] for d in city["depots"]] == ["Xiaoshan Cold Store"]
    assert [s["name"] for s in city["window_slots"]] == ["morning", "evening"]
    duplicate_slots = {**CITY, "name": "Wenzhou", "window_slots": [SLOT, SLOT]}
    error = _error(operator_client.post("/cities", json=duplicate_slots), 422)
    assert error["loc"] == ["body", "window_slots"]
    assert operator_client.get("/cities", params={"q": "Wenzhou"}).json()["total"] == 0


def test_another_citys_settings_are_not_mine_to_change(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    other = make.city(timezone="Asia/Shanghai")
    assert operator_client.get(f"/cities/{other.id}").status_code == 200
    patch = operator_client.patch(f"/cities/{other.id}", json={"timezone": "Europe/Berlin"})
    assert _error(patch, 403)["loc"] == ["path", "city_id"]
    slot = operator_client.post(f"/cities/{other.id}/window-slots", json=SLOT)
    assert slot.status_code == 403
    depot = operator_client.post(
        f"/cities/{other.id}/depots", json={"name": "D", "lat": 31, "lon": 121}
    )
    assert depot.status_code == 403
    make.db.refresh(other)
    assert other.timezone == "Asia/Shanghai" and other.window_slots == []


def test_unknown_city_is_404(operator_client) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.get("/cities/999999"), 404)
    assert "999999" in error["msg"]


def test_cities_list_is_paginated_and_filtered(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    for name in ("Suzhou West", "Suzhou East", "Ningbo"):
        make.city(name=name)
    page = operator_client.get("/cities", params={"q": "suzhou", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["limit"] == 1
    second = operator_client.get("/cities", params={"q": "suzhou", "limit": 1, "offset": 1}).json()
    assert {page["items"][0]["name"], second["items"][0]["name"]} == {"Suzhou West", "Suzhou East"}
    error = _error(operator_client.get("/cities", params={"limit": 0}), 422)
    assert error["loc"][-1] == "limit"


def test_depots_crud(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    body = {"name": "Minhang Cold Store", "lat": 31.02, "lon": 121.43}
    created = operator_client.post(f"/cities/{city.id}/depots", json=body)
    assert created.status_code == 201, created.text
    depot_id = created.json()["id"]
    listed = operator_client.get(f"/cities/{city.id}/depots").json()
    assert [d["id"] for d in listed["items"]] == [depot_id]
    patched = operator_client.patch(
        f"/cities/{city.id}/depots/{depot_id}", json={"address": "88 Jianchuan Rd"}
    )
    assert patched.json()["address"] == "88 Jianchuan Rd"
    other = make.city()
    assert operator_client.get(f"/cities/{other.id}/depots/{depot_id}").status_code == 403
    assert operator_client.get(f"/cities/{city.id}/depots/987654").status_code == 404
    assert operator_client.delete(f"/cities/{city.id}/depots/{depot_id}").status_code == 204
    assert operator_client.get(f"/cities/{city.id}/depots/{depot_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "D", "lat": 91, "lon": 121}, "lat"),
        ({"name": "D", "lat": -90.5, "lon": 121}, "lat"),
        ({"name": "D", "lat": 31, "lon": 180.1}, "lon"),
        ({"name": "", "lat": 31, "lon": 121}, "name"),
        ({"name": "D", "lon": 121}, "lat"),
    ],
)
def test_depot_position_is_validated(operator_client, make, body, field) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    error = _error(operator_client.post(f"/cities/{city.id}/depots", json=body), 422)
    assert error["loc"] == ["body", field]


def test_window_slots_crud(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    evening = {**SLOT, "name": "evening", "ready_by_local": "18:00"}
    assert operator_client.post(f"/cities/{city.id}/window-slots", json=evening).status_code == 201
    created = operator_client.post(f"/cities/{city.id}/window-slots", json=SLOT)
    assert created.status_code == 201, created.text
    slots = operator_client.get(f"/cities/{city.id}/window-slots").json()
    assert [(s["name"], s["ready_by_local"]) for s in slots] == [
        ("morning", "11:00"),
        ("evening", "18:00"),
    ]
    slot_id = created.json()["id"]
    patched = operator_client.patch(
        f"/cities/{city.id}/window-slots/{slot_id}", json={"cutoff_hours_before": 6}
    )
    assert patched.json()["cutoff_hours_before"] == 6
    duplicate = operator_client.patch(
        f"/cities/{city.id}/window-slots/{slot_id}", json={"name": "evening"}
    )
    assert _error(duplicate, 409)["loc"] == ["body", "name"]
    assert operator_client.delete(f"/cities/{city.id}/window-slots/{slot_id}").status_code == 204
    assert len(operator_client.get(f"/cities/{city.id}/window-slots").json()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ready_by_local": "11:00+02:00"}, "ready_by_local"),
        ({"ready_by_local": "25:00"}, "ready_by_local"),
        ({"ready_by_local": "11:00:30"}, "ready_by_local"),
        ({"cutoff_hours_before": 0}, "cutoff_hours_before"),
        ({"cutoff_hours_before": 2.5}, "cutoff_hours_before"),
        ({"pickup_hours_after": -1}, "pickup_hours_after"),
        ({"name": "Morning Slot!"}, "name"),
    ],
)
def test_window_slot_is_validated(operator_client, make, change, field) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    response = operator_client.post(f"/cities/{city.id}/window-slots", json={**SLOT, **change})
    assert _error(response, 422)["loc"] == ["body", field]


def test_duplicate_slot_name_conflicts(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    assert operator_client.post(f"/cities/{city.id}/window-slots", json=SLOT).status_code == 201
    response = operator_client.post(f"/cities/{city.id}/window-slots", json=SLOT)
    assert _error(response, 409)["loc"] == ["body", "name"]


CITY_ENDPOINTS = [
    ("get", "/cities"),
    ("post", "/cities"),
    ("get", "/cities/1"),
    ("patch", "/cities/1"),
    ("get", "/cities/1/depots"),
    ("post", "/cities/1/depots"),
    ("delete", "/cities/1/depots/1"),
    ("get", "/cities/1/window-slots"),
    ("post", "/cities/1/window-slots"),
    ("patch", "/cities/1/window-slots/1"),
]


@pytest.mark.parametrize(("method", "path"), CITY_ENDPOINTS)
def test_city_endpoints_are_for_operators(
    resident_client, driver_client, anon_client, method: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {} if method in ("get", "delete") else {"json": {}}
    assert getattr(anon_client, method)(path, **kwargs).status_code == 401
    assert getattr(resident_client, method)(path, **kwargs).status_code == 403
    assert getattr(driver_client, method)(path, **kwargs).status_code == 403
