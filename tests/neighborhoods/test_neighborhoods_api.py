"""Operator API for neighborhoods, locker banks and compartments."""

import pytest

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods.models import CompartmentStatus


def _error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


HOOD = {"name": "Jing'an Garden", "address": "1200 Yan'an Rd", "lat": 31.2296, "lon": 121.4453}


def test_create_defaults_to_the_operators_city(operator_client, operator) -> None:  # type: ignore[no-untyped-def]
    created = operator_client.post("/neighborhoods", json=HOOD)
    assert created.status_code == 201, created.text
    assert created.json()["city_id"] == operator.city_id
    assert created.json()["active"] is True


def test_an_operator_cannot_create_in_another_city(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    other = make.city()
    error = _error(operator_client.post("/neighborhoods", json={**HOOD, "city_id": other.id}), 422)
    assert error["loc"] == ["body", "city_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 90.01}, "lat"),
        ({"lat": -91}, "lat"),
        ({"lon": 181}, "lon"),
        ({"lon": "east"}, "lon"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"active": "perhaps"}, "active"),
    ],
)
def test_neighborhood_input_is_validated(operator_client, change, field) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/neighborhoods", json={**HOOD, **change}), 422)
    assert error["loc"] == ["body", field]


def test_names_are_unique_per_city_only(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    make.neighborhood(make.city(), name=HOOD["name"])  # the same name elsewhere is fine
    assert operator_client.post("/neighborhoods", json=HOOD).status_code == 201
    assert _error(operator_client.post("/neighborhoods", json=HOOD), 409)["loc"] == ["body", "name"]


def test_list_filters_and_pages(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    for name in ("Gubei New Village", "Gubei Court", "Lujiazui Heights"):
        make.neighborhood(city, name=name)
    make.neighborhood(city, name="Gubei Old Lane", active=False)
    make.neighborhood(make.city(), name="Gubei Elsewhere")
    page = operator_client.get(
        "/neighborhoods", params={"q": "GUBEI", "active": True, "limit": 1}
    ).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    rest = operator_client.get(
        "/neighborhoods", params={"q": "gubei", "active": True, "offset": 1}
    ).json()
    assert {page["items"][0]["name"], rest["items"][0]["name"]} == {
        "Gubei New Village",
        "Gubei Court",
    }
    inactive = operator_client.get("/neighborhoods", params={"active": False}).json()
    assert [n["name"] for n in inactive["items"]] == ["Gubei Old Lane"]
    assert _error(operator_client.get("/neighborhoods", params={"sort": "name"}), 422)


def test_patch_deactivates_and_refuses_null(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood()
    patched = operator_client.patch(f"/neighborhoods/{hood.id}", json={"active": False})
    assert patched.json()["active"] is False
    error = _error(operator_client.patch(f"/neighborhoods/{hood.id}", json={"lat": None}), 422)
    assert error["loc"] == ["body", "lat"]


def test_delete_refuses_a_neighborhood_in_use(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    lonely = make.neighborhood()
    assert operator_client.delete(f"/neighborhoods/{lonely.id}").status_code == 204
    assert operator_client.get(f"/neighborhoods/{lonely.id}").status_code == 404
    lived_in = make.resident().neighborhood_id
    error = _error(operator_client.delete(f"/neighborhoods/{lived_in}"), 409)
    assert "active=false" in error["msg"]
    assert operator_client.get(f"/neighborhoods/{lived_in}").status_code == 200


def test_locker_bank_defaults_to_the_neighborhood_position(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood(lat=31.1, lon=121.3)
    response = operator_client.post(
        f"/neighborhoods/{hood.id}/locker-banks", json={"code": "HZ-001", "name": "Gate 1"}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["lat"], response.json()["lon"]) == (31.1, 121.3)
    listed = operator_client.get(f"/neighborhoods/{hood.id}/locker-banks").json()
    assert [b["code"] for b in listed["items"]] == ["HZ-001"]
    again = operator_client.post(
        f"/neighborhoods/{make.neighborhood().id}/locker-banks",
        json={"code": "HZ-001", "name": "Gate 1"},
    )
    assert _error(again, 409)["loc"] == ["body", "code"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "hz 1", "name": "x"}, "code"),
        ({"code": "", "name": "x"}, "code"),
        ({"code": "HZ-2", "name": "x", "lat": 100}, "lat"),
    ],
)
def test_locker_bank_input_is_validated(operator_client, make, body, field) -> None:  # type: ignore[no-untyped-def]
    hood = make.neighborhood()
    response = operator_client.post(f"/neighborhoods/{hood.id}/locker-banks", json=body)
    assert _error(response, 422)["loc"] == ["body", field]


def test_bank_moves_only_within_its_city(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    bank = make.locker_bank()
    same_city = make.neighborhood()
    moved = operator_client.patch(
        f"/locker-banks/{bank.id}", json={"neighborhood_id": same_city.id}
    )
    assert moved.json()["neighborhood_id"] == same_city.id
    far = make.neighborhood(make.city())
    refused = operator_client.patch(f"/locker-banks/{bank.id}", json={"neighborhood_id": far.id})
    assert _error(refused, 404)["loc"] == ["body", "neighborhood_id"]
    assert operator_client.get(f"/locker-banks/{bank.id}").json()["neighborhood_id"] == same_city.id


def test_bulk_compartments_by_size_and_zone(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    bank = make.locker_bank()
    body = {
        "groups": [
            {"zone": "ambient", "size": "M", "count": 3},
            {"zone": "chilled", "size": "S", "count": 2},
            {"zone": "frozen", "size": "L", "count": 2, "inner_volume_ml": 80000},
        ]
    }
    response = operator_client.post(f"/locker-banks/{bank.id}/compartments", json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert [c["label"] for c in made] == ["A01", "A02", "A03", "C01", "C02", "F01", "F02"]
    assert {c["inner_volume_ml"] for c in made if c["zone"] == "ambient"} == {45000}
    assert {c["inner_volume_ml"] for c in made if c["zone"] == "frozen"} == {80000}
    assert all(c["status"] == "free" for c in made)
    more = operator_client.post(
        f"/locker-banks/{bank.id}/compartments",
        json={"groups": [{"zone": "chilled", "size": "L", "count": 1}]},
    ).json()
    assert [c["label"] for c in more] == ["C03"]
    chilled = operator_client.get(
        f"/locker-banks/{bank.id}/compartments", params={"zone": "chilled"}
    ).json()
    assert chilled["total"] == 3
    assert [c["size"] for c in chilled["items"]] == ["S", "S", "L"]


@pytest.mark.parametrize(
    ("groups", "field"),
    [
        ([{"zone": "tepid", "size": "M", "count": 1}], ["groups", 0, "zone"]),
        ([{"zone": "ambient", "size": "XL", "count": 1}], ["groups", 0, "size"]),
        ([{"zone": "ambient", "size": "M", "count": 0}], ["groups", 0, "count"]),
        ([{"zone": "ambient", "size": "M", "count": 1, "inner_volume_ml": -5}], None),
        ([], ["groups"]),
        ([{"zone": "ambient", "size": "M", "count": 300}] * 2, ["groups"]),
    ],
)
def test_bulk_compartments_are_validated(operator_client, make, groups, field) -> None:  # type: ignore[no-untyped-def]
    bank = make.locker_bank()
    response = operator_client.post(
        f"/locker-banks/{bank.id}/compartments", json={"groups": groups}
    )
    error = _error(response, 422)
    expected = field or ["groups", 0, "inner_volume_ml"]
    assert error["loc"] == ["body", *expected]


def test_delete_bank_removes_free_compartments_but_not_busy_ones(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    free_bank = make.locker_bank()
    make.compartment(free_bank)
    assert operator_client.delete(f"/locker-banks/{free_bank.id}").status_code == 204
    assert operator_client.get(f"/locker-banks/{free_bank.id}").status_code == 404
    busy_bank = make.locker_bank()
    make.compartment(
        busy_bank,
        size=CompartmentSize.S,
        zone=TemperatureClass.FROZEN,
        status=CompartmentStatus.OCCUPIED,
    )
    assert _error(operator_client.delete(f"/locker-banks/{busy_bank.id}"), 409)
    assert operator_client.get(f"/locker-banks/{busy_bank.id}").status_code == 200


def test_bank_list_shows_my_city_only(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    mine = make.locker_bank(make.neighborhood(), code="ZZ-MINE")
    make.locker_bank(make.neighborhood(make.city()), code="ZZ-OTHER")
    page = operator_client.get("/locker-banks", params={"q": "zz-"}).json()
    assert [b["id"] for b in page["items"]] == [mine.id]
    by_hood = operator_client.get("/locker-banks", params={"neighborhood_id": mine.neighborhood_id})
    assert by_hood.json()["total"] == 1


def test_another_citys_neighborhoods_and_banks_are_not_found(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    other = make.city()
    hood = make.neighborhood(other)
    bank = make.locker_bank(hood)
    compartment = make.compartment(bank)
    requests = [
        ("get", f"/neighborhoods/{hood.id}", None),
        ("patch", f"/neighborhoods/{hood.id}", {"active": False}),
        ("delete", f"/neighborhoods/{hood.id}", None),
        ("get", f"/neighborhoods/{hood.id}/locker-banks", None),
        ("post", f"/neighborhoods/{hood.id}/locker-banks", {"code": "XX-1", "name": "x"}),
        ("get", f"/locker-banks/{bank.id}", None),
        ("patch", f"/locker-banks/{bank.id}", {"name": "mine now"}),
        ("delete", f"/locker-banks/{bank.id}", None),
        ("get", f"/locker-banks/{bank.id}/compartments", None),
        ("get", f"/locker-banks/{bank.id}/compartments/{compartment.id}", None),
        (
            "post",
            f"/locker-banks/{bank.id}/compartments",
            {"groups": [{"zone": "ambient", "size": "S", "count": 1}]},
        ),
    ]
    for method, path, body in requests:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(operator_client, method)(path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
    assert operator_client.get("/neighborhoods", params={"q": hood.name}).json()["total"] == 0
    make.db.refresh(hood)
    make.db.refresh(bank)
    assert hood.active and bank.name != "mine now"


ENDPOINTS = [
    ("get", "/neighborhoods"),
    ("post", "/neighborhoods"),
    ("get", "/neighborhoods/1"),
    ("patch", "/neighborhoods/1"),
    ("delete", "/neighborhoods/1"),
    ("post", "/neighborhoods/1/locker-banks"),
    ("get", "/locker-banks"),
    ("patch", "/locker-banks/1"),
    ("delete", "/locker-banks/1"),
    ("get", "/locker-banks/1/compartments"),
    ("post", "/locker-banks/1/compartments"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_neighborhood_endpoints_are_for_operators(
    resident_client, driver_client, anon_client, method: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {} if method in ("get", "delete") else {"json": {}}
    assert getattr(anon_client, method)(path, **kwargs).status_code == 401
    assert getattr(resident_client, method)(path, **kwargs).status_code == 403
    assert getattr(driver_client, method)(path, **kwargs).status_code == 403
