"""Day board: windows, cut-off countdowns, orders, group buys, the pipeline, the routes."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.cities.queries import city_timezone
from app.core.db import SessionDep, utcnow
from app.staff.queries import StaffAccount
from app.web.session import PageOperator
from ops_dashboard import board_queries as queries
from ops_dashboard.pages import pages
from ops_dashboard.routes_map_queries import STATUS_KIND, STATUS_LABEL

router = APIRouter()


def _context(db: Session, operator: StaffAccount) -> dict[str, object]:
    timezone = city_timezone(db, operator.city_id) or "UTC"
    board = queries.load_board(db, operator.city_id, timezone, utcnow())
    return {
        "board": board,
        "route_kind": STATUS_KIND,
        "route_label": STATUS_LABEL,
        "top": queries.TOP_NEIGHBORHOODS,
    }


def board_page(request: Request, db: SessionDep, operator: PageOperator) -> HTMLResponse:
    """The day at a glance at `/ops` (mounted by `ops_dashboard.routes`: a router cannot hold an
    empty path): each window, its group buys, the pipeline and the vans."""
    return pages.render(request, "board.html", _context(db, operator))


@router.get("/board/panels", response_class=HTMLResponse)
def board_panels(request: Request, db: SessionDep, operator: PageOperator) -> HTMLResponse:
    """The board's panels alone, for the live refresh."""
    return pages.render(request, "board_panels.html", _context(db, operator))
