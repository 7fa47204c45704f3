"""Depot: a closed window's pick list and packing list, printable and as CSV."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import Conflict
from app.web.session import PageOperator
from app.windows.queries import WindowView, latest_closed_window, window_view
from logistics.errors import WindowNotFound
from ops_dashboard import depot_lists, routes_map_queries
from ops_dashboard.pages import pages

router = APIRouter()
Van = Annotated[str, Query(pattern=r"^(all|\d{1,9})$")]


class WindowNotClosed(Conflict):
    """The window is not closed yet: its depot lists are not final."""

    case = "window_not_closed"


def _window(db: Session, city_id: int, window_id: int | None) -> WindowView | None:
    if window_id is None:
        return latest_closed_window(db, city_id, utcnow())
    window = window_view(db, window_id)
    if window is None or window.city_id != city_id:
        raise WindowNotFound(f"delivery window {window_id} not found", field="window_id")
    return window


def _closed(db: Session, city_id: int, window_id: int) -> WindowView:
    window = _window(db, city_id, window_id)
    assert window is not None
    if not window.is_closed:
        raise WindowNotClosed(
            "the window is not closed yet: its lists are not final", field="window_id"
        )
    return window


@router.get("/depot", response_class=HTMLResponse)
def depot_page(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    window_id: Annotated[int | None, Query(ge=1)] = None,
    van: Van | None = None,
) -> HTMLResponse:
    """A closed window's pick list, its vans, and the packing list of one van (or all)."""
    window = _window(db, operator.city_id, window_id)
    windows: list[Any] = list(routes_map_queries.windows_of(db, operator.city_id, utcnow()))
    if window is not None and window.id not in {w.id for w in windows}:
        windows.append(window)
    context: dict[str, Any] = {"window": window, "windows": windows, "van": van}
    if window is not None and window.is_closed:
        vans = depot_lists.vans(db, window.id)
        chosen = van or (str(vans[0][0]) if vans else None)
        route_id = None if chosen in (None, "all") else int(str(chosen))
        context.update(
            picks=depot_lists.pick_list(db, window.id),
            vans=vans,
            van=chosen,
            loads=depot_lists.packing_list(db, window.id, route_id) if chosen else [],
        )
    return pages.render(request, "depot.html", context)


def _csv(body: bytes, filename: str) -> Response:
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _filename(window: WindowView, what: str) -> str:
    slot = "".join(c for c in window.slot_name if c.isalnum() or c in "-_") or "window"
    return f"{what}-{window.local_date.isoformat()}-{slot}-{window.id}.csv"


@router.get("/depot/{window_id}/pick-list.csv", response_model=None)
def pick_list_csv(db: SessionDep, operator: PageOperator, window_id: int) -> Response:
    """The pick list as CSV (UTF-8 with BOM for Excel)."""
    window = _closed(db, operator.city_id, window_id)
    picks = depot_lists.pick_list(db, window.id)
    return _csv(depot_lists.pick_list_csv(picks), _filename(window, "pick-list"))


@router.get("/depot/{window_id}/packing-list.csv", response_model=None)
def packing_list_csv(db: SessionDep, operator: PageOperator, window_id: int) -> Response:
    """The packing list as CSV: one row per parcel line, by van and pickup point."""
    window = _closed(db, operator.city_id, window_id)
    loads = depot_lists.packing_list(db, window.id)
    return _csv(depot_lists.packing_list_csv(loads), _filename(window, "packing-list"))
