"""Notification endpoints: Twilio webhooks (signed), the operators' outbox views, a resident's
own messages. Operators see their own city's messages only."""

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select

from app.auth.deps import CurrentOperator, CurrentResident
from app.core.db import SessionDep
from app.core.limits import MAX_INT, DbId
from app.residents import queries as residents_queries
from notifications import service, tasks, webhooks
from notifications.errors import MessageNotFound
from notifications.models import InboundMessage, Message, MessageStatus
from notifications.schemas import (
    InboundRead,
    MessageRead,
    MessageSummary,
    NotificationSettingsRead,
    NotificationSettingsUpdate,
)

router = APIRouter(prefix="/notifications", tags=["notifications"])
TwilioRequest = Annotated[webhooks.TwilioForm, Depends(webhooks.verified_form)]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip")]
TWIML = "application/xml"


@router.post(
    "/webhooks/twilio/status",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Twilio message status callback (signed by Twilio)",
)
def twilio_status(db: SessionDep, form: TwilioRequest) -> Response:
    webhooks.handle_status(db_session=db, form=form)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhooks/twilio/inbound",
    summary="Twilio inbound SMS: STOP / START / HELP (signed by Twilio), answered in TwiML",
    response_class=Response,
    responses={200: {"content": {TWIML: {}}}},
)
def twilio_inbound(db: SessionDep, form: TwilioRequest) -> Response:
    result = webhooks.handle_inbound(db_session=db, form=form)
    db.commit()
    return Response(content=webhooks.twiml(result.reply), media_type=TWIML)


def _own(db: SessionDep, operator: CurrentOperator, message_id: int) -> Message:
    message = service.get(db_session=db, message_id=message_id)
    if message is None or message.city_id != operator.city_id:
        raise MessageNotFound("no such message", field="message_id")
    return message


@router.get("/messages", summary="The city's SMS outbox, newest first")
def list_messages(
    db: SessionDep,
    operator: CurrentOperator,
    status_in: Annotated[list[MessageStatus] | None, Query(alias="status")] = None,
    template: str | None = None,
    resident_id: DbId | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[MessageRead]:
    messages = service.get_all(
        db_session=db,
        city_id=operator.city_id,
        statuses=status_in,
        resident_id=resident_id,
        template=template,
        limit=limit,
        offset=offset,
    )
    return [MessageRead.model_validate(m) for m in messages]


@router.get("/messages/{message_id}", summary="One message of the city")
def get_message(db: SessionDep, operator: CurrentOperator, message_id: int) -> MessageRead:
    return MessageRead.model_validate(_own(db, operator, message_id))


@router.get("/failures", summary="Failed and undelivered messages of the city, newest first")
def list_failures(
    db: SessionDep, operator: CurrentOperator, limit: Limit = 50, offset: Offset = 0
) -> list[MessageRead]:
    messages = service.get_all(
        db_session=db,
        city_id=operator.city_id,
        statuses=[MessageStatus.FAILED, MessageStatus.UNDELIVERED],
        limit=limit,
        offset=offset,
    )
    return [MessageRead.model_validate(m) for m in messages]


@router.get("/summary", summary="Messages per status, failures per Twilio error code")
def summary(db: SessionDep, operator: CurrentOperator) -> MessageSummary:
    failed = service.get_all(
        db_session=db,
        city_id=operator.city_id,
        statuses=[MessageStatus.FAILED, MessageStatus.UNDELIVERED],
        limit=500,
    )
    codes = Counter(str(m.error_code or "none") for m in failed)
    return MessageSummary(
        by_status=service.count_by_status(db_session=db, city_id=operator.city_id),
        failed_by_error_code=dict(codes),
    )


@router.post(
    "/messages/{message_id}/resend",
    status_code=status.HTTP_201_CREATED,
    summary="Send a failed or undelivered message again (once per failure)",
)
def resend(db: SessionDep, operator: CurrentOperator, message_id: int) -> MessageRead:
    original = _own(db, operator, message_id)
    copy = service.resend(db_session=db, message=original)
    due = copy.status is MessageStatus.QUEUED and copy.not_before is None
    db.commit()
    if due:
        tasks.enqueue_sends([copy.id])
    return MessageRead.model_validate(copy)


@router.get("/inbound", summary="SMS residents of the city sent us (keywords, redacted)")
def list_inbound(
    db: SessionDep, operator: CurrentOperator, limit: Limit = 50, offset: Offset = 0
) -> list[InboundRead]:
    rows = db.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.resident_id.in_(residents_queries.resident_ids_in_city(operator.city_id))
        )
        .order_by(InboundMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [InboundRead.model_validate(r) for r in rows]


@router.get("/settings", summary="The city's quiet hours, reminder and nudge policy")
def get_settings(db: SessionDep, operator: CurrentOperator) -> NotificationSettingsRead:
    policy = service.get_policy(db_session=db, city_id=operator.city_id)
    return NotificationSettingsRead.model_validate(policy)


@router.patch("/settings", summary="Change the city's quiet hours, reminder and nudge policy")
def update_settings(
    db: SessionDep, operator: CurrentOperator, settings_in: NotificationSettingsUpdate
) -> NotificationSettingsRead:
    policy = service.update_settings(
        db_session=db, city_id=operator.city_id, changes=settings_in.changes()
    )
    db.commit()
    return NotificationSettingsRead.model_validate(policy)


@router.get("/me/messages", summary="The SMS we sent you (codes masked; see your parcels)")
def my_messages(
    db: SessionDep, resident: CurrentResident, limit: Limit = 20, offset: Offset = 0
) -> list[MessageRead]:
    messages = service.get_all(db_session=db, resident_id=resident.id, limit=limit, offset=offset)
    return [MessageRead.model_validate(m) for m in messages]
