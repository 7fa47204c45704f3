"""Every dashboard page under `/ops`, for operators only (each view's module owns its routes)."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ops_dashboard import alarms, board, depot, live, lockers_view, messages, parcels, routes_map

router = APIRouter(prefix="/ops", include_in_schema=False)
for view in (board, routes_map, lockers_view, parcels, messages, depot, alarms, live):
    router.include_router(view.router)
router.add_api_route("", board.board_page, methods=["GET"], response_class=HTMLResponse)
