"""The dashboard's one event stream per tab: the outbox and the lockers' own events."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import SessionDep
from app.web.live import Happened, LiveSource, live_stream, outbox_source
from app.web.session import PageOperator
from lockers.models import LockerEvent

router = APIRouter()


def locker_event_source(db_session: Session, cursor: int | None) -> Happened:
    """Door, keypad and temperature events as the lockers reported them (`locker.door_opened`)."""
    if cursor is None:
        latest = db_session.scalar(select(func.max(LockerEvent.id)))
        return Happened(cursor=latest or 0, kinds=())
    rows = db_session.execute(
        select(LockerEvent.id, LockerEvent.type)
        .where(LockerEvent.id > cursor)
        .order_by(LockerEvent.id)
        .limit(5000)
    ).all()
    if not rows:
        return Happened(cursor=cursor, kinds=())
    return Happened(cursor=rows[-1][0], kinds=[f"locker.{kind}" for _, kind in rows])


SOURCES: tuple[LiveSource, ...] = (outbox_source, locker_event_source)


@router.get("/live")
def live(request: Request, db: SessionDep, _operator: PageOperator) -> StreamingResponse:
    """Server-sent events: what changed, once a second, and the city's clock."""
    # The request's session would stay open (on SQLite: holding the write lock of BEGIN
    # IMMEDIATE) for as long as the tab streams; each poll opens its own session instead.
    db.close()
    return live_stream(request, SOURCES)
