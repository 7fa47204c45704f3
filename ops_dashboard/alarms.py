"""Alarms: open alarms on every page, the list with its filters, acknowledge with a comment."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import DomainError
from app.staff.queries import StaffAccount
from app.web.session import PageOperator
from ops_dashboard import alarm_states
from ops_dashboard import alarms_queries as queries
from ops_dashboard.pages import pages

router = APIRouter()
Show = Annotated[str, Query(pattern="^(open|active|unack|cleared|all)$")]
Page = Annotated[int, Query(ge=1, le=10_000)]


def _list_context(page: queries.AlarmPage, show: str) -> dict[str, Any]:
    return {
        "listing": page,
        "show": show,
        "texts": queries.TEXTS,
        "type_labels": queries.TYPE_LABELS,
        "state_labels": queries.STATE_LABELS,
        "severity_kind": queries.SEVERITY_KIND,
    }


def _render_list(
    request: Request, db: Session, operator: StaffAccount, show: str, page: int, template: str
) -> HTMLResponse:
    listing = queries.alarm_list(db, operator.city_id, show, page)
    return pages.render(request, template, _list_context(listing, show))


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(
    request: Request, db: SessionDep, operator: PageOperator, show: Show = "open", page: Page = 1
) -> HTMLResponse:
    """The city's alarms under a filter, worst first, with the acknowledge form."""
    return _render_list(request, db, operator, show, page, "alarms.html")


@router.get("/alarms/table", response_class=HTMLResponse)
def alarms_table(
    request: Request, db: SessionDep, operator: PageOperator, show: Show = "open", page: Page = 1
) -> HTMLResponse:
    """The list alone, for the live refresh."""
    return _render_list(request, db, operator, show, page, "alarms_table.html")


@router.get("/alarms/badge", response_class=HTMLResponse)
def alarms_badge(request: Request, db: SessionDep, operator: PageOperator) -> HTMLResponse:
    """The header's badge: how many alarms are active, coloured by the worst."""
    context = {"badge": queries.badge(db, operator.city_id)}
    return pages.render(request, "alarms_badge.html", context)


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(
    request: Request, db: SessionDep, operator: PageOperator, alarm_id: int
) -> HTMLResponse:
    """One alarm: what it says, its state and its history."""
    alarm = queries.get_alarm(db, operator.city_id, alarm_id)
    context = _list_context(queries.AlarmPage([alarm], 1, {}, {}, 1), "all")
    context.update(alarm=alarm, history=queries.history(db, alarm.id))
    context["listing"].names = queries.staff_names(db, [alarm])
    return pages.render(request, "alarm.html", context)


@router.post("/alarms/{alarm_id}/ack", response_model=None)
def acknowledge(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    alarm_id: int,
    comment: Annotated[str, Form(max_length=500)] = "",
    show: Annotated[str, Form(pattern="^(open|active|unack|cleared|all)$")] = "open",
) -> Response:
    """Acknowledge an alarm with a comment (who and when are recorded)."""
    alarm = queries.get_alarm(db, operator.city_id, alarm_id)
    try:
        alarm_states.acknowledge(
            db_session=db, alarm=alarm, operator_id=operator.id, comment=comment, now=utcnow()
        )
    except DomainError as refusal:
        db.rollback()
        listing = queries.alarm_list(db, operator.city_id, show)
        context = _list_context(listing, show) | {"error": refusal}
        template = "alarms_table.html" if request.headers.get("HX-Request") else "alarms.html"
        return pages.render(request, template, context, status_code=refusal.status_code)
    db.commit()
    if request.headers.get("HX-Request"):
        return _render_list(request, db, operator, show, 1, "alarms_table.html")
    return RedirectResponse(f"/ops/alarms?show={show}", status_code=303)
