"""Routes map: the city as vector graphics, vans, stops, re-plan and re-dispatch."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import DomainError, InvalidInput
from app.staff.queries import StaffAccount
from app.web.session import PageOperator
from app.windows.queries import WindowView, window_view
from logistics import cutoff_steps, dispatch_edit
from logistics.errors import WindowNotFound
from logistics.replan import replan_window, validate_replan
from logistics.settings import get_logistics_settings
from logistics.solve_outside import plan_without_holding
from ops_dashboard import map_svg
from ops_dashboard import routes_map_queries as queries
from ops_dashboard.pages import pages

router = APIRouter()
NOTICES = {
    "replanned": "Window re-planned: the drivers' routes are updated.",
    "moved": "Stop moved. Re-dispatch both routes so their drivers see the change.",
    "dispatched": "Route dispatched to its driver.",
}
FormId = Annotated[str, Form(max_length=20)]


class FormIdRequired(InvalidInput):
    """A form left a required id empty."""

    case = "form_id_required"


class FormIdInvalid(InvalidInput):
    """A form's id is not a positive whole number."""

    case = "form_id_invalid"


def _window(db: Session, operator: StaffAccount, window_id: int | None) -> WindowView | None:
    if window_id is None:
        windows = queries.windows_of(db, operator.city_id, utcnow())
        routed = queries.routed_windows(db, [w.id for w in windows])
        window_id = queries.current_window(windows, routed, utcnow())
        if window_id is None:
            return None
    window = window_view(db, window_id)
    if window is None or window.city_id != operator.city_id:
        raise WindowNotFound(f"delivery window {window_id} not found", field="window_id")
    return window


def _context(db: Session, operator: StaffAccount, window: WindowView | None) -> dict[str, Any]:
    windows = queries.windows_of(db, operator.city_id, utcnow())
    if window is not None and window.id not in {w.id for w in windows}:
        windows.append(window)
    city = queries.load_map(db, window) if window is not None else None
    return {
        "window": window,
        "windows": windows,
        "city": city,
        "drawing": map_svg.draw(city) if city is not None else None,
    }


@router.get("/routes", response_class=HTMLResponse)
def routes_page(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    window_id: Annotated[int | None, Query(ge=1)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """The map of a window's routes (the current window unless one is picked)."""
    window = _window(db, operator, window_id)
    context = _context(db, operator, window)
    context["notice"] = NOTICES.get(notice or "")
    return pages.render(request, "routes.html", context)


@router.get("/routes/panel", response_class=HTMLResponse)
def routes_panel(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    window_id: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    """The map, the route list and the unassigned stops, refreshed live."""
    window = _window(db, operator, window_id)
    return pages.render(request, "routes_panel.html", _context(db, operator, window))


def _id(value: str, field: str, *, required: bool = True) -> int | None:
    text = value.strip()
    if not text:
        if required:
            raise FormIdRequired(f"{field} is required", field=field)
        return None
    if not text.isdigit() or int(text) < 1:
        raise FormIdInvalid(f"{field} must be a positive whole number", field=field)
    return int(text)


def _refused(
    request: Request, db: Session, operator: StaffAccount, window_id: str, refusal: DomainError
) -> HTMLResponse:
    try:
        window = _window(db, operator, _id(window_id, "window_id"))
    except DomainError:
        window = None
    context = _context(db, operator, window)
    context["error"] = refusal
    return pages.render(request, "routes.html", context, status_code=refusal.status_code)


def _done(window_id: int, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/ops/routes?window_id={window_id}&notice={notice}", status_code=303)


@router.post("/routes/replan", response_model=None)
def replan(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    window_id: FormId = "",
    vehicle_id_out: FormId = "",
    bank_id_out: FormId = "",
) -> Response:
    """Re-plan what is left of the window (optionally without a van or a bank)."""
    try:
        window = _window(db, operator, _id(window_id, "window_id"))
        assert window is not None
        van_out = _id(vehicle_id_out, "vehicle_id_out", required=False)
        bank_out = _id(bank_id_out, "bank_id_out", required=False)
        validate_replan(van_out, bank_out, fleet_changed=True)
        settings = get_logistics_settings()
        planned_id, now = window.id, utcnow()
        depart_after = cutoff_steps.depart_after(db, planned_id, settings)
        plan_without_holding(
            db,
            lambda solver: replan_window(
                db_session=db,
                window_id=planned_id,
                vehicle_id_out=van_out,
                bank_id_out=bank_out,
                now=now,
                depart_after=depart_after,
                settings=settings,
                solver=solver,
            ),
            settings=settings,
            time_limit_s=settings.replan_time_limit_s,
        )
    except DomainError as refusal:
        return _refused(request, db, operator, window_id, refusal)
    db.commit()
    return _done(window.id, "replanned")


@router.post("/routes/move", response_model=None)
def move_stop(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    window_id: FormId = "",
    stop_id: FormId = "",
    vehicle_id: FormId = "",
) -> Response:
    """Move a pending stop to another van; both routes are re-sequenced."""
    try:
        window = _window(db, operator, _id(window_id, "window_id"))
        assert window is not None
        stop = _id(stop_id, "stop_id")
        van = _id(vehicle_id, "vehicle_id")
        assert stop is not None and van is not None
        dispatch_edit.move_stop(
            db_session=db, stop_id=stop, to_vehicle_id=van, city_id=operator.city_id
        )
    except DomainError as refusal:
        return _refused(request, db, operator, window_id, refusal)
    db.commit()
    return _done(window.id, "moved")


@router.post("/routes/{route_id}/dispatch", response_model=None)
def dispatch(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    route_id: int,
    window_id: FormId = "",
) -> Response:
    """Publish the route as it stands to its driver."""
    try:
        route = dispatch_edit.redispatch(db_session=db, route_id=route_id, city_id=operator.city_id)
    except DomainError as refusal:
        return _refused(request, db, operator, window_id, refusal)
    db.commit()
    return _done(route.window_id, "dispatched")
