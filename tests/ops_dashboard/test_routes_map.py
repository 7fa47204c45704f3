"""The routes map page: the city drawn as SVG, routes with progress, and the operators' actions."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from logistics.models import Route, RouteStatus, RouteStop
from tests.factories import Factory
from tests.logistics.conftest import World
from tests.logistics.test_dispatch_edit import cut_off

T, S = TemperatureClass, CompartmentSize
LOCKERS = {T.CHILLED: {S.S: 3}}


@pytest.fixture
def city(make: Factory, db: Session) -> World:
    """Two vans of 10 L chilled and four stops of 3 L each, cut off and routed."""
    world = World(make)
    for _ in range(2):
        world.van(chilled_volume_ml=10_000)
    for n in range(4):
        hood, _ = world.hood(km_north=1.0 + n, lockers=LOCKERS)
        world.order(hood, [(world.chilled, 2)], confirmed=False)
    cut_off(world, db)
    return world


def _routes(db: Session, world: World) -> list[Route]:
    db.expire_all()
    return list(db.scalars(select(Route).where(Route.window_id == world.window.id)))


def test_the_map_draws_every_route_as_svg(city: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(city.operator())
    page = client.get("/ops/routes")
    assert page.status_code == 200
    html = page.text
    assert '<svg class="city-map"' in html
    for route in _routes(db, city):
        assert f'data-route-id="{route.id}"' in html
    assert html.count('class="m-depot"><title>') == 1
    assert "0/" in html  # progress: no stop done yet
    assert "http://" not in html.replace("http://www.w3.org", "")
    panel = client.get(f"/ops/routes/panel?window_id={city.window.id}")
    assert panel.status_code == 200 and "<html" not in panel.text


def test_the_page_speaks_chinese(city: World, page_client_for) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(city.operator())
    client.cookies.set("pickup_lang", "zh")
    html = client.get("/ops/routes").text
    assert "重新规划" in html and "未分配的站点" in html


def test_another_citys_window_is_not_found(city: World, make: Factory, page_client_for) -> None:  # type: ignore[no-untyped-def]
    stranger = make.operator(city=make.city())
    answer = page_client_for(stranger).get(f"/ops/routes?window_id={city.window.id}")
    assert answer.status_code == 404


def test_replan_from_the_page(city: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(city.operator())
    answer = client.post(
        "/ops/routes/replan", data={"window_id": str(city.window.id)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert "notice=replanned" in answer.headers["location"]
    assert db.scalar(select(OutboxEvent).where(OutboxEvent.kind == "route.replanned"))
    assert "Window re-planned" in client.get(answer.headers["location"]).text


def test_move_a_stop_then_redispatch(city: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(city.operator())
    source, target = sorted(_routes(db, city), key=lambda r: -len(r.stops))
    stop = source.stops[0]
    answer = client.post(
        "/ops/routes/move",
        data={
            "window_id": str(city.window.id),
            "stop_id": str(stop.id),
            "vehicle_id": str(target.vehicle_id),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    db.expire_all()
    moved = db.get(RouteStop, stop.id)
    assert moved is not None and moved.route_id == target.id
    answer = client.post(
        f"/ops/routes/{target.id}/dispatch",
        data={"window_id": str(city.window.id)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    event = db.scalar(select(OutboxEvent).where(OutboxEvent.kind == "route.dispatched"))
    assert event is not None and event.payload["route_id"] == target.id


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"stop_id": "x", "vehicle_id": "1"}, "stop_id", 422),
        ({"stop_id": "", "vehicle_id": "1"}, "stop_id", 422),
        ({"stop_id": "999999", "vehicle_id": "1"}, "stop_id", 404),
        ({"window_id": "abc"}, "window_id", 422),
    ],
)
def test_bad_input_names_the_field(  # type: ignore[no-untyped-def]
    city: World, page_client_for, data: dict[str, str], field: str, code: int
) -> None:
    client = page_client_for(city.operator())
    form = {"window_id": str(city.window.id), **data}
    answer = client.post("/ops/routes/move", data=form, follow_redirects=False)
    assert answer.status_code == code
    assert field in answer.text and 'role="alert"' in answer.text


def test_an_illegal_move_is_a_named_409(city: World, db: Session, page_client_for) -> None:  # type: ignore[no-untyped-def]
    client = page_client_for(city.operator())
    route = _routes(db, city)[0]
    route.status = RouteStatus.COMPLETED
    db.flush()
    answer = client.post(
        f"/ops/routes/{route.id}/dispatch", data={"window_id": str(city.window.id)}
    )
    assert answer.status_code == 409 and "route_id" in answer.text


def test_the_map_of_600_neighborhoods_renders_fast(make: Factory, page_client_for) -> None:  # type: ignore[no-untyped-def]
    world = World(make)
    for n in range(600):
        world.make.locker_bank(
            world.make.neighborhood(world.city, lat=31 + n / 1000, lon=121 + (n % 37) / 100)
        )
    client = page_client_for(world.operator())
    client.get("/ops/routes")
    started = time.perf_counter()
    page = client.get(f"/ops/routes?window_id={world.window.id}")
    elapsed = time.perf_counter() - started
    assert page.status_code == 200 and page.text.count('class="m-bank') >= 600
    assert elapsed < 0.3, f"{elapsed * 1000:.0f} ms"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ops/routes"),
        ("GET", "/ops/routes/panel?window_id=1"),
        ("POST", "/ops/routes/replan"),
        ("POST", "/ops/routes/move"),
        ("POST", "/ops/routes/1/dispatch"),
    ],
)
def test_only_operators_reach_the_routes_pages(  # type: ignore[no-untyped-def]
    make: Factory, page_client_for, method: str, path: str
) -> None:
    assert page_client_for(None).request(method, path).status_code == 303
    assert page_client_for(make.resident()).request(method, path).status_code == 403
    assert page_client_for(make.driver()).request(method, path).status_code == 403


def test_a_late_and_silent_van_is_flagged_and_greyed(  # type: ignore[no-untyped-def]
    city: World, db: Session, page_client_for
) -> None:
    route = _routes(db, city)[0]
    route.status = RouteStatus.IN_PROGRESS
    route.started_at = utcnow() - timedelta(minutes=45)
    first = min(route.stops, key=lambda s: s.sequence)
    first.planned_arrival = first.eta = utcnow() - timedelta(minutes=25)
    db.flush()
    html = page_client_for(city.operator()).get(f"/ops/routes?window_id={city.window.id}").text
    item = html.split(f'class="route-item" data-route-id="{route.id}"')[1].split("</li>")[0]
    assert "late by 25 min" in item or "late by 24 min" in item
    assert "no driver action for 45 min" in item and "s-stale" in item
    assert 'class="m-van stale"' in html
