"""Operator API for products: validation names the field, roles hold, paging and filters work."""

import pytest

from app.core.enums import TemperatureClass


def _error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


PRODUCT = {
    "sku": "VEG-BOKCHOY-500",
    "name": "Bok choy",
    "name_zh": "上海青",
    "unit": "500 g",
    "price_minor": 590,
    "temperature_class": "chilled",
    "packed_volume_ml": 2500,
    "weight_g": 520,
    "max_minutes_out": 120,
}


def test_create_product_in_the_operators_city(operator_client, operator) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.post("/products", json=PRODUCT)
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["city_id"] == operator.city_id
    assert product["price_minor"] == 590 and product["name_zh"] == "上海青"
    assert operator_client.get(f"/products/{product['id']}").json() == product


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_minor": -100}, "price_minor"),
        ({"price_minor": 0}, "price_minor"),
        ({"price_minor": 5.9}, "price_minor"),
        ({"price_minor": "590"}, "price_minor"),
        ({"temperature_class": "lukewarm"}, "temperature_class"),
        ({"packed_volume_ml": 0}, "packed_volume_ml"),
        ({"weight_g": -1}, "weight_g"),
        ({"max_minutes_out": 0}, "max_minutes_out"),
        ({"sku": "has space"}, "sku"),
        ({"unit": ""}, "unit"),
        ({"price": 590}, "price"),
    ],
)
def test_product_input_is_validated(operator_client, change, field) -> None:  # type: ignore[no-untyped-def]
    error = _error(operator_client.post("/products", json={**PRODUCT, **change}), 422)
    assert error["loc"] == ["body", field]


def test_missing_price_is_named(operator_client) -> None:  # type: ignore[no-untyped-def]
    body = {k: v for k, v in PRODUCT.items() if k != "price_minor"}
    error = _error(operator_client.post("/products", json=body), 422)
    assert error["loc"] == ["body", "price_minor"] and error["type"] == "missing"


def test_sku_is_unique_per_city(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    assert operator_client.post("/products", json=PRODUCT).status_code == 201
    assert _error(operator_client.post("/products", json=PRODUCT), 409)["loc"] == ["body", "sku"]
    make.product(make.city(), sku=PRODUCT["sku"])  # the same SKU elsewhere is fine
    assert (
        operator_client.patch(
            f"/products/{make.product(sku='OTHER-1').id}", json={"sku": PRODUCT["sku"]}
        ).status_code
        == 409
    )


def test_patch_price_and_refuse_bad_changes(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    product = make.product()
    patched = operator_client.patch(f"/products/{product.id}", json={"price_minor": 650})
    assert patched.status_code == 200 and patched.json()["price_minor"] == 650
    for body, field in (
        ({"price_minor": -1}, "price_minor"),
        ({"name": None}, "name"),
        ({"temperature_class": "hot"}, "temperature_class"),
    ):
        error = _error(operator_client.patch(f"/products/{product.id}", json=body), 422)
        assert error["loc"] == ["body", field]
    assert operator_client.get(f"/products/{product.id}").json()["price_minor"] == 650


def test_list_filters_by_class_and_text(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    city = make.default_city()
    make.product(make.city(), name="Frozen dumplings elsewhere")
    make.product(city, name="Frozen pork dumplings", temperature_class=TemperatureClass.FROZEN)
    make.product(city, name="Frozen shrimp", temperature_class=TemperatureClass.FROZEN)
    make.product(city, name="Fresh milk", temperature_class=TemperatureClass.CHILLED)
    make.product(
        city, name="Old dumplings", temperature_class=TemperatureClass.FROZEN, active=False
    )
    frozen = operator_client.get(
        "/products", params={"temperature_class": "frozen", "active": True}
    ).json()
    assert [p["name"] for p in frozen["items"]] == ["Frozen pork dumplings", "Frozen shrimp"]
    found = operator_client.get("/products", params={"q": "DUMPLING"}).json()
    assert found["total"] == 2
    page = operator_client.get("/products", params={"limit": 3}).json()
    assert page["total"] == 4 and len(page["items"]) == 3
    bad = operator_client.get("/products", params={"temperature_class": "warm"})
    assert _error(bad, 422)["loc"][-1] == "temperature_class"


def test_delete_refuses_a_product_in_a_group_buy(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    unused = make.product()
    assert operator_client.delete(f"/products/{unused.id}").status_code == 204
    assert operator_client.get(f"/products/{unused.id}").status_code == 404
    used = make.group_buy().product_id
    assert "active=false" in _error(operator_client.delete(f"/products/{used}"), 409)["msg"]
    assert operator_client.get(f"/products/{used}").status_code == 200


def test_another_citys_products_are_not_found(operator_client, make) -> None:  # type: ignore[no-untyped-def]
    theirs = make.product(make.city(), price_minor=1000)
    assert operator_client.get(f"/products/{theirs.id}").status_code == 404
    patch = operator_client.patch(f"/products/{theirs.id}", json={"price_minor": 1})
    assert _error(patch, 404)["loc"] == ["path", "product_id"]
    assert operator_client.delete(f"/products/{theirs.id}").status_code == 404
    make.db.refresh(theirs)
    assert theirs.price_minor == 1000
    error = _error(operator_client.post("/products", json={**PRODUCT, "city_id": 1}), 422)
    assert error["loc"] == ["body", "city_id"]


ENDPOINTS = [
    ("get", "/products"),
    ("post", "/products"),
    ("get", "/products/1"),
    ("patch", "/products/1"),
    ("delete", "/products/1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_product_endpoints_are_for_operators(
    resident_client, driver_client, anon_client, method: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {} if method in ("get", "delete") else {"json": {}}
    assert getattr(anon_client, method)(path, **kwargs).status_code == 401
    assert getattr(resident_client, method)(path, **kwargs).status_code == 403
    assert getattr(driver_client, method)(path, **kwargs).status_code == 403
