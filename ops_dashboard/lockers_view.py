"""Lockers: banks online, temperatures, occupancy, the compartment grid, remote actions."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import DomainError, InvalidInput
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import CompartmentView, LockerBankView
from app.staff.queries import StaffAccount
from app.web.session import PageOperator
from lockers import audit_log, banks, resync
from lockers import operator as locker_operator
from lockers.errors import CompartmentNotFound, LockerBankNotFound, LockerCommandNotFound
from logistics import compartment_move
from ops_dashboard import lockers_queries as queries
from ops_dashboard.pages import pages

router = APIRouter()
Show = Annotated[str, Query(pattern="^(all|offline|parcels|cold)$")]
FormText = Annotated[str, Form(max_length=500)]
NOTICES = {
    "out": "Compartment out of service; its reservation moved.",
    "back": "Compartment back in service.",
    "resync": "Resync queued: the locker gets its parcels and codes again.",
}


class ReasonTooShort(InvalidInput):
    """A remote action needs a reason of 3 characters or more."""

    case = "reason_too_short"


class CompartmentRequired(InvalidInput):
    """The form chose no compartment."""

    case = "compartment_required"


class CompartmentActionInvalid(InvalidInput):
    """The out-of-service action is neither `out` nor `back`."""

    case = "compartment_action_invalid"


def _bank(db: Session, operator: StaffAccount, bank_id: int) -> LockerBankView:
    bank = neighborhood_queries.locker_bank(db_session=db, bank_id=bank_id)
    city_id = (
        neighborhood_queries.bank_city_id(db_session=db, bank_id=bank.id)
        if bank is not None
        else None
    )
    if bank is None or city_id is None or city_id != operator.city_id:
        raise LockerBankNotFound(f"locker bank {bank_id} not found", field="bank_id")
    return bank


@router.get("/lockers", response_class=HTMLResponse)
def lockers_page(
    request: Request, db: SessionDep, operator: PageOperator, show: Show = "all"
) -> HTMLResponse:
    """Every bank: online or not, last seen, occupancy, temperatures; filtered."""
    rows = queries.bank_rows(db, operator.city_id, show)
    context = {"rows": rows, "show": show, "filters": queries.FILTERS, "now": utcnow()}
    return pages.render(request, "lockers.html", context)


@router.get("/lockers/table", response_class=HTMLResponse)
def lockers_table(
    request: Request, db: SessionDep, operator: PageOperator, show: Show = "all"
) -> HTMLResponse:
    """The banks' table alone, for the live refresh."""
    rows = queries.bank_rows(db, operator.city_id, show)
    return pages.render(request, "lockers_table.html", {"rows": rows, "show": show})


def _bank_context(db: Session, bank: LockerBankView) -> dict[str, Any]:
    picture = locker_operator.bank_picture(db_session=db, bank_id=bank.id)
    reported = (picture.state.state if picture.state else None) or {}
    audit = audit_log.get_audit_log(db_session=db, bank_id=bank.id, limit=30)
    return {
        "bank": bank,
        "picture": picture,
        "cells": queries.grid(picture.compartments, reported.get("compartments", {})),
        "events": queries.recent_events(db, bank.id),
        "audit": audit,
        "actors": queries.audit_names(db, audit),
    }


@router.get("/lockers/{bank_id}", response_class=HTMLResponse)
def bank_page(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    bank_id: int,
    command: Annotated[str | None, Query(max_length=36)] = None,
    notice: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """One bank: the compartment grid, its events and audit log, the remote actions."""
    bank = _bank(db, operator, bank_id)
    context = _bank_context(db, bank)
    context["progress"] = queries.open_progress(db, bank.id, command) if command else None
    context["notice"] = NOTICES.get(notice or "")
    return pages.render(request, "bank.html", context)


@router.get("/lockers/{bank_id}/grid", response_class=HTMLResponse)
def bank_grid(
    request: Request, db: SessionDep, operator: PageOperator, bank_id: int
) -> HTMLResponse:
    """The grid, events and audit log alone, for the live refresh."""
    bank = _bank(db, operator, bank_id)
    return pages.render(request, "bank_live.html", _bank_context(db, bank))


@router.get("/lockers/{bank_id}/commands/{command_id}", response_class=HTMLResponse)
def open_status(
    request: Request, db: SessionDep, operator: PageOperator, bank_id: int, command_id: str
) -> HTMLResponse:
    """Where a remote open stands (waiting, then confirmed by the door event)."""
    bank = _bank(db, operator, bank_id)
    progress = queries.open_progress(db, bank.id, command_id[:36])
    if progress is None:
        raise LockerCommandNotFound(f"command {command_id} not found", field="command_id")
    return pages.render(request, "bank_open_status.html", {"bank": bank, "progress": progress})


def _reason(value: str) -> str:
    text = value.strip()
    if len(text) < 3:
        raise ReasonTooShort("give a reason (3 characters or more)", field="reason")
    return text


def _compartment(db: Session, bank: LockerBankView, value: str) -> CompartmentView:
    if not value.strip().isdigit():
        raise CompartmentRequired("choose a compartment", field="compartment_id")
    compartment = neighborhood_queries.compartment(db_session=db, compartment_id=int(value))
    if compartment is None or compartment.bank_id != bank.id:
        raise CompartmentNotFound(f"no compartment {value} in this bank", field="compartment_id")
    return compartment


def _refused(
    request: Request, db: Session, bank: LockerBankView, refusal: DomainError
) -> HTMLResponse:
    context = _bank_context(db, bank)
    context.update(error=refusal, progress=None)
    return pages.render(request, "bank.html", context, status_code=refusal.status_code)


@router.post("/lockers/{bank_id}/open", response_model=None)
def remote_open(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    bank_id: int,
    compartment_id: FormText = "",
    reason: FormText = "",
) -> Response:
    """Open a compartment from afar (audited); the page then follows the door event."""
    bank = _bank(db, operator, bank_id)
    try:
        compartment = _compartment(db, bank, compartment_id)
        command = locker_operator.remote_open(
            db_session=db,
            bank_id=bank.id,
            compartment_id=compartment.id,
            reason=_reason(reason),
            operator_id=operator.id,
        )
    except DomainError as refusal:
        return _refused(request, db, bank, refusal)
    return RedirectResponse(f"/ops/lockers/{bank.id}?command={command.id}", status_code=303)


@router.post("/lockers/{bank_id}/out-of-service", response_model=None)
def out_of_service(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    bank_id: int,
    compartment_id: FormText = "",
    reason: FormText = "",
    action: Annotated[str, Form(max_length=4)] = "out",
) -> Response:
    """Take a compartment out of service (its reservation moves) or back in service."""
    bank = _bank(db, operator, bank_id)
    try:
        if action not in ("out", "back"):
            raise CompartmentActionInvalid("action is out or back", field="action")
        compartment = _compartment(db, bank, compartment_id)
        locker_operator.mark_out_of_service(
            db_session=db,
            bank=banks.get_bank(db_session=db, bank_id=bank.id),
            compartment=banks.get_compartment(db_session=db, compartment_id=compartment.id),
            out_of_service=action == "out",
            reason=_reason(reason),
            actor_id=operator.id,
            tell_locker=True,
        )
        if action == "out":
            compartment_move.move_off_compartment(
                db_session=db, compartment_id=compartment.id, city_id=operator.city_id
            )
    except DomainError as refusal:
        return _refused(request, db, bank, refusal)
    db.commit()
    return RedirectResponse(f"/ops/lockers/{bank.id}?notice={action}", status_code=303)


@router.post("/lockers/{bank_id}/resync", response_model=None)
def resync_codes(
    request: Request, db: SessionDep, operator: PageOperator, bank_id: int, reason: FormText = ""
) -> Response:
    """Send the bank every live parcel and code again (a fresh resync replaces a pending one)."""
    bank = _bank(db, operator, bank_id)
    try:
        why = _reason(reason)
    except DomainError as refusal:
        return _refused(request, db, bank, refusal)
    commands = resync.resync_bank(db_session=db, bank_id=bank.id, reason="operator", supersede=True)
    audit_log.audit(
        db_session=db,
        actor_id=operator.id,
        action="resync",
        bank_id=bank.id,
        reason=why,
        details={"commands": [c.id for c in commands]},
    )
    db.commit()
    return RedirectResponse(f"/ops/lockers/{bank.id}?notice=resync", status_code=303)
