"""Messages: SMS sent, delivered and failed with their reasons, opt-outs, resend."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.core.db import SessionDep, utcnow
from app.core.errors import DomainError
from app.core.settings import get_settings
from app.staff.queries import StaffAccount
from app.web.session import PageOperator
from notifications import render, service, tasks
from notifications.errors import MessageNotFound, TemplateUnknown
from notifications.queries import MessageStatus
from ops_dashboard import messages_queries as queries
from ops_dashboard.pages import pages

router = APIRouter()
Show = Annotated[str, Query(pattern="^(" + "|".join(queries.SHOWS) + ")$")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Template = Annotated[str, Query(max_length=40)]


def _context(
    db: Session,
    operator: StaffAccount,
    *,
    show: str = "all",
    page: int = 1,
    template: str = "",
    message_id: int | None = None,
) -> dict[str, Any]:
    since = queries.start_of_local_day(utcnow(), get_settings().city_timezone)
    opted_out, opt_out_rows = queries.opt_outs(db, operator.city_id)
    return {
        "show": show,
        "shows": list(queries.SHOWS),
        "template": template,
        "templates": sorted(render.SPECS),
        "message_id": message_id,
        "since": since,
        "counts": queries.today_counts(db, operator.city_id, since),
        "reasons": queries.failure_reasons(db, operator.city_id, since),
        "listing": queries.messages(db, operator.city_id, show, page, template or None, message_id),
        "opted_out": opted_out,
        "opt_outs": opt_out_rows,
        "kind_of": queries.message_kind,
    }


@router.get("/messages", response_class=HTMLResponse)
def messages_page(
    request: Request,
    db: SessionDep,
    operator: PageOperator,
    show: Show = "all",
    page: PageNumber = 1,
    template: Template = "",
    message_id: Annotated[int | None, Query(ge=1)] = None,
    resent: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Today's SMS by status, failures with their reasons, the outbox page, opt-outs."""
    if template and template not in render.SPECS:
        return pages.render(
            request,
            "messages.html",
            {**_context(db, operator, show=show), "error": _unknown_template(template)},
            status_code=TemplateUnknown.status_code,
        )
    context = _context(db, operator, show=show, page=page, template=template, message_id=message_id)
    context["resent"] = resent
    return pages.render(request, "messages.html", context)


def _unknown_template(template: str) -> DomainError:
    return TemplateUnknown(f"no template named {template[:40]}", field="template")


@router.post("/messages/{message_id}/resend", response_model=None)
def resend_message(
    request: Request, db: SessionDep, operator: PageOperator, message_id: int
) -> Response:
    """Send a failed or undelivered message again, through the notifications service."""
    original = service.get(db_session=db, message_id=message_id)
    if original is None or original.city_id != operator.city_id:
        raise MessageNotFound("no such message", field="message_id")
    try:
        copy = service.resend(db_session=db, message=original)
    except DomainError as refusal:
        context = _context(db, operator, show="failed")
        context["error"] = refusal
        return pages.render(request, "messages.html", context, status_code=refusal.status_code)
    due = copy.status is MessageStatus.QUEUED and copy.not_before is None
    copy_id = copy.id
    db.commit()
    if due:
        tasks.enqueue_sends([copy_id])
    return RedirectResponse(f"/ops/messages?resent={copy_id}&show=failed", status_code=303)
