"""Compose the FastAPI application: every package's router, error handlers, the dashboard."""

import importlib
import logging

from fastapi import APIRouter, Depends, FastAPI

from app.core.errors import install_error_handlers
from app.core.ids import check_path_ids
from app.core.limits import BodySizeLimit
from app.core.settings import get_settings

log = logging.getLogger(__name__)

# Each module exposes `router`; modules of packages not built yet are skipped.
ROUTER_MODULES = (
    "app.auth.routes",
    "app.residents.routes",
    "app.cities.routes",
    "app.catalog.routes",
    "app.neighborhoods.routes",
    "app.windows.routes",
    "app.groupbuys.routes",
    "app.orders.routes",
    "app.payments.routes",
    "logistics.routes",
    "lockers.routes",
    "notifications.routes",
    "ops_dashboard.routes",
)

OPENAPI_TAGS = [
    {"name": "auth", "description": "Phone + one-time code for residents; passwords for staff."},
    {"name": "resident", "description": "What a resident sees and does: catalog, orders, sharing."},
    {
        "name": "operator",
        "description": "City operations: neighborhoods, products, windows, cut-off.",
    },
    {"name": "driver", "description": "Routes and deposits for van drivers."},
    {"name": "lockers", "description": "Smart locker banks and commands."},
    {"name": "notifications", "description": "SMS outbox and provider webhooks."},
    {"name": "ops", "description": "The operations dashboard."},
]


def _routers() -> list[APIRouter]:
    routers = []
    for name in ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        routers.append(module.router)
    return routers


def create_app() -> FastAPI:
    """The API with every package mounted."""
    settings = get_settings()
    app = FastAPI(
        title="Pickup: neighborhood group buys to smart lockers",
        version="0.1.0",
        description=(
            "Residents order by neighborhood for a delivery window; group buys form or fail at the "
            "cut-off; parcels travel by refrigerated van to smart lockers. Authenticate with "
            "`Authorization: Bearer <token>` from the `auth` endpoints."
        ),
        openapi_tags=OPENAPI_TAGS,
        dependencies=[Depends(check_path_ids)],
    )
    install_error_handlers(app)
    for router in _routers():
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="Liveness probe")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    return app
