"""The app's included routers become plain routes of the app, with the same paths, dependencies,
tags, answers and OpenAPI document as FastAPI derives for the included ones."""

import json
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient

from app.core.flat_routes import flatten_included_routers
from app.core.ids import check_path_ids
from app.main import create_app

calls: list[str] = []


def app_wide() -> None:
    calls.append("app")


def router_wide(x_key: Annotated[str | None, Header()] = None) -> None:
    calls.append("router")
    if x_key != "open":
        raise HTTPException(403, "key")


def nested_app() -> FastAPI:
    inner = APIRouter(prefix="/items", tags=["items"], responses={418: {"description": "tea"}})

    @inner.get("/{item_id}", summary="One item")
    def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @inner.post("", status_code=201)
    def create_item() -> dict[str, str]:
        return {"made": "yes"}

    outer = APIRouter(dependencies=[Depends(router_wide)])
    outer.include_router(inner, prefix="/shop", tags=["shop"])
    app = FastAPI(dependencies=[Depends(app_wide)])
    app.include_router(outer)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def test_nested_routers_answer_and_document_the_same_flat() -> None:
    included, flat = nested_app(), nested_app()
    flatten_included_routers(flat)
    assert not any(isinstance(r, _IncludedRouter) for r in flat.router.routes)
    assert json.dumps(included.openapi(), sort_keys=True) == json.dumps(
        flat.openapi(), sort_keys=True
    )
    answers = []
    for app in (included, flat):
        client = TestClient(app)
        calls.clear()
        seen = [
            client.get("/shop/items/7", headers={"x-key": "open"}),
            client.get("/shop/items/7"),  # the router's dependency refuses
            client.get("/shop/items/x", headers={"x-key": "open"}),  # 422 on the path
            client.put("/shop/items/7", headers={"x-key": "open"}),  # 405
            client.post("/shop/items", headers={"x-key": "open"}),
            client.get("/nowhere"),
            client.get("/healthz"),
        ]
        answers.append(([(r.status_code, r.content) for r in seen], list(calls)))
    assert answers[0] == answers[1]
    statuses = [status for status, _ in answers[1][0]]
    assert statuses == [200, 403, 422, 405, 201, 404, 200]
    assert answers[1][1][:2] == ["app", "router"], "the app's dependency first, as included"


def test_the_app_has_no_included_router_left_and_each_route_checks_path_ids_once() -> None:
    app = create_app()
    assert not any(isinstance(r, _IncludedRouter) for r in app.router.routes)
    api_routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert len(api_routes) > 100
    for route in api_routes:
        checks = [d for d in route.dependencies if d.dependency is check_path_ids]
        assert len(checks) == 1, route.path
