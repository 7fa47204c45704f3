"""The dashboard's one event stream per tab: the outbox and the lockers' own events."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.core.db import SessionDep
from app.events.consumer import Mark
from app.web.live import Happened, LiveSource, live_stream, outbox_source
from app.web.session import PageOperator
from lockers.queries import new_locker_event_types

router = APIRouter()


def locker_event_source(db_session: Session, cursor: Mark | None) -> Happened:
    """Door, keypad and temperature events as the lockers reported them (`locker.door_opened`)."""
    kinds, mark = new_locker_event_types(db_session, cursor)
    return Happened(cursor=mark, kinds=[f"locker.{kind}" for kind in kinds])


SOURCES: tuple[LiveSource, ...] = (outbox_source, locker_event_source)


@router.get("/live")
def live(request: Request, db: SessionDep, _operator: PageOperator) -> StreamingResponse:
    """Server-sent events: what changed, once a second, and the city's clock."""
    # The request's session would stay open (on SQLite: holding the write lock of BEGIN
    # IMMEDIATE) for as long as the tab streams; each poll opens its own session instead.
    db.close()
    return live_stream(request, SOURCES)
