"""Every page of the drivers' app, under `/driver`: today's routes, the start of shift with the
load check, the stop list, a stop's one-thumb actions, the action sync (idempotent by id), and
what makes it an installable, offline-first app (manifest, service worker, offline page)."""

from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.db import SessionDep
from app.core.limits import DbId, SaneDatetime
from app.web.session import PageDriver
from driver_app import queries
from driver_app.pages import pages
from lockers import deposit
from logistics import driver as driver_service
from logistics import driver_actions
from logistics import parcels as logistics_parcels
from logistics.driver import StopNotOnRoute
from logistics.driver_actions import ActionKind, DriverAction
from logistics.handover import FailureReason, ParcelNotAtStop

router = APIRouter(prefix="/driver", include_in_schema=False)
STATIC = Path(__file__).parent / "static"
NO_STORE = {"Cache-Control": "no-store"}


class ActionIn(BaseModel):
    """One tap from the phone, with the id it made for it and the phone's clock."""

    id: UUID
    kind: ActionKind
    route_id: DbId
    stop_id: DbId | None = None
    parcel_id: DbId | None = None
    reason: FailureReason | None = None
    device_time: SaneDatetime | None = None

    @model_validator(mode="after")
    def _targets(self) -> "ActionIn":
        if self.kind in driver_actions.NEEDS_STOP and self.stop_id is None:
            raise ValueError(f"stop_id is required for {self.kind.value}")
        if self.kind in driver_actions.NEEDS_PARCEL and self.parcel_id is None:
            raise ValueError(f"parcel_id is required for {self.kind.value}")
        if self.kind == ActionKind.FAIL and self.reason is None:
            raise ValueError("reason is required for fail")
        return self


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: SessionDep, driver: PageDriver) -> HTMLResponse:
    """Today's routes of this driver."""
    routes = driver_service.routes_today(db_session=db, staff=driver)
    return pages.render(request, "home.html", {"routes": routes, "driver": driver})


@router.get("/route/{route_id}", response_class=HTMLResponse)
def route_page(request: Request, db: SessionDep, driver: PageDriver, route_id: int) -> HTMLResponse:
    """Start of shift (load check by temperature class, start) and the ordered stop list."""
    page = queries.route_page(db, driver, route_id)
    return pages.render(request, "route.html", {"page": page})


@router.get("/route/{route_id}/stop/{stop_id}", response_class=HTMLResponse)
def stop_page(
    request: Request, db: SessionDep, driver: PageDriver, route_id: int, stop_id: int
) -> HTMLResponse:
    """A stop: navigation, arrived, a door per parcel, failed with a reason, depart."""
    page = queries.route_page(db, driver, route_id)
    index = next((i for i, s in enumerate(page.stops) if s.id == stop_id), None)
    if index is None:
        raise StopNotOnRoute(f"stop {stop_id} is not on route {route_id}", field="stop_id")
    context = {
        "page": page,
        "stop": page.stops[index],
        "next_stop": page.stops[index + 1] if index + 1 < len(page.stops) else None,
        "reasons": queries.FAILURE_REASONS,
    }
    return pages.render(request, "stop.html", context)


@router.get("/route/{route_id}/state")
def route_state(db: SessionDep, driver: PageDriver, route_id: int) -> JSONResponse:
    """The route's live state (stops, ETAs, each parcel at the locker) for the phone."""
    page = queries.route_page(db, driver, route_id)
    return JSONResponse(queries.route_state(page), headers=NO_STORE)


@router.post("/actions")
def sync_action(db: SessionDep, driver: PageDriver, action_in: ActionIn) -> JSONResponse:
    """Apply one queued action once by its id; a replay answers the first answer again."""
    action = DriverAction(
        action_id=str(action_in.id),
        kind=action_in.kind,
        route_id=action_in.route_id,
        stop_id=action_in.stop_id,
        parcel_id=action_in.parcel_id,
        reason=action_in.reason,
        device_time=action_in.device_time,
    )
    try:
        receipt = _sync(db, driver, action)
    except IntegrityError:  # the same id arrived twice at once: the other one won
        db.rollback()
        receipt = _sync(db, driver, action)
    page = queries.route_page(db, driver, action.route_id)
    body: dict[str, Any] = {
        "id": receipt.action_id,
        "kind": receipt.kind,
        "outcome": receipt.outcome,
        "replayed": receipt.replayed,
        "status_code": receipt.status_code,
        "error": receipt.error_code,
        "message": receipt.message,
        "command_id": receipt.command_id,
        "state": queries.route_state(page),
    }
    return JSONResponse(body, headers=NO_STORE)


def _sync(db: Session, driver: PageDriver, action: DriverAction) -> driver_actions.Receipt:
    route = driver_service.get_own(db_session=db, route_id=action.route_id, staff=driver)

    def open_compartment(parcel_id: int) -> str:
        parcel = logistics_parcels.get_parcel(db_session=db, parcel_id=parcel_id)
        if parcel is None or parcel.route_stop_id != action.stop_id:
            raise ParcelNotAtStop(
                f"parcel {parcel_id} is not delivered at stop {action.stop_id}",
                field="parcel_id",
            )
        command = deposit.request_deposit(db_session=db, parcel_id=parcel_id, driver_id=driver.id)
        return command.id

    receipt = driver_actions.sync(
        db_session=db,
        staff=driver,
        route=route,
        action=action,
        open_compartment=open_compartment,
    )
    db.commit()
    return receipt


@router.get("/app.js")
def app_script(driver: PageDriver) -> FileResponse:
    """The app's script: the action queue, undo, sync, door polling."""
    return FileResponse(STATIC / "driver.js", media_type="text/javascript")


@router.get("/sw.js")
def service_worker() -> FileResponse:
    """The service worker, served from `/driver/` so that is its scope."""
    return FileResponse(
        STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/manifest.webmanifest")
def manifest() -> FileResponse:
    """The installable app's manifest."""
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/offline", response_class=HTMLResponse)
def offline(request: Request) -> HTMLResponse:
    """Shown for a page the phone has not cached while it has no network."""
    return pages.render(request, "offline.html")
