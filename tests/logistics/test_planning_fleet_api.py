"""The van fleet operators plan with: create, list, change; scoped to the operator's city."""

from sqlalchemy.orm import Session

VAN = {
    "code": "VAN-API-1",
    "chilled_volume_ml": 2_000_000,
    "chilled_weight_g": 700_000,
    "shift_start_local": "05:00",
    "shift_end_local": "14:00",
    "fixed_cost_minor": 30_000,
}


def test_operator_manages_the_fleet(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    operator = client_for(world.operator())
    driver = world.driver()
    created = operator.post(
        "/vehicles", json={**VAN, "depot_id": world.depot.id, "default_driver_id": driver.id}
    )
    assert created.status_code == 201, created.text
    van = created.json()
    assert van["city_id"] == world.city.id and van["active"] is True
    assert van["frozen_volume_ml"] == 0
    listed = operator.get("/vehicles").json()
    assert [v["id"] for v in listed] == [van["id"]]
    changed = operator.patch(f"/vehicles/{van['id']}", json={"active": False, "name": "Spare"})
    assert changed.status_code == 200
    assert (changed.json()["active"], changed.json()["name"]) == (False, "Spare")
    again = operator.post("/vehicles", json={**VAN, "depot_id": world.depot.id})
    assert again.status_code == 409


def test_fleet_is_scoped_and_validated(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    operator = client_for(world.operator())
    other_city = world.make.city()
    foreign_depot = world.make.depot(other_city)
    answer = operator.post("/vehicles", json={**VAN, "code": "V2", "depot_id": foreign_depot.id})
    assert answer.status_code == 404
    assert answer.json()["detail"][0]["loc"] == ["body", "depot_id"]
    resident_driver = world.make.driver(city=other_city)
    answer = operator.post(
        "/vehicles",
        json={
            **VAN,
            "code": "V3",
            "depot_id": world.depot.id,
            "default_driver_id": resident_driver.id,
        },
    )
    assert answer.status_code == 404
    bad = operator.post(
        "/vehicles", json={**VAN, "code": "V4", "depot_id": world.depot.id, "chilled_volume_ml": -1}
    )
    assert bad.status_code == 422
    foreign_van = world.van(city_id=other_city.id, depot_id=foreign_depot.id)
    assert operator.patch(f"/vehicles/{foreign_van.id}", json={"name": "x"}).status_code == 404
    assert client_for(world.driver()).get("/vehicles").status_code == 403
