"""Compose the FastAPI application: every package's router and the error handlers."""

import logging

from fastapi import APIRouter, Depends, FastAPI

from app.auth.routes import router as auth_router
from app.catalog.routes import router as catalog_router
from app.cities.routes import router as cities_router
from app.core.error_schema import document_error_answers
from app.core.errors import install_error_handlers
from app.core.flat_routes import flatten_included_routers
from app.core.forwarded import TrustedProxyHeaders
from app.core.ids import check_path_ids, document_path_ids
from app.core.request_guard import BodySizeLimit, InputGuard, install_validation_handler
from app.core.settings import get_settings
from app.groupbuys.routes import router as groupbuys_router
from app.neighborhoods.routes import router as neighborhoods_router
from app.orders.routes import router as orders_router
from app.payments.routes import router as payments_router
from app.residents.routes import router as residents_router
from app.web.routes import mount_web
from app.windows.routes import router as windows_router
from driver_app.routes import router as driver_app_router
from lockers.provisioning_routes import router as lockers_provisioning_router
from lockers.routes import router as lockers_router
from logistics.routes import router as logistics_router
from notifications.routes import router as notifications_router
from ops_dashboard.routes import router as ops_router
from shop.routes import router as shop_router

log = logging.getLogger(__name__)

# A request's route is found by trying the routes in turn (about 2 µs each): the rush's
# (catalog, progress, orders, profile) first. No two routers' paths overlap.
ROUTERS: tuple[APIRouter, ...] = (
    groupbuys_router,
    orders_router,
    residents_router,
    auth_router,
    cities_router,
    catalog_router,
    neighborhoods_router,
    windows_router,
    payments_router,
    logistics_router,
    lockers_router,
    lockers_provisioning_router,
    notifications_router,
    ops_router,
    driver_app_router,
    shop_router,
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
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_validation_handler(app)
    mount_web(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="Liveness probe")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    flatten_included_routers(app)
    document_path_ids(app)
    document_error_answers(app)
    app.add_middleware(InputGuard)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(TrustedProxyHeaders, trusted=settings.trusted_proxies)  # outermost
    return app
