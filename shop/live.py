"""A resident tab's event stream: the city's clock for the countdowns, and a nudge when
something happened, so an order's timeline refreshes itself."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.core.db import SessionDep
from app.web.live import live_stream, outbox_source
from app.web.session import PageResident

router = APIRouter()


@router.get("/live")
def live(request: Request, db: SessionDep, _resident: PageResident) -> StreamingResponse:
    """Server-sent events: `clock` every second, `changed` when the outbox moved."""
    db.close()  # each poll opens its own session; the stream must not hold this one
    return live_stream(request, (outbox_source,))
