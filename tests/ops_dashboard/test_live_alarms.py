"""The one stream per tab carries the alarms (their outbox events), and the header's clock
listens to the stream's clock so countdowns follow a played day's clock."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.web.live import outbox_source
from lockers.models import LockerBankState
from logistics.models import ParcelStatus
from ops_dashboard import alarm_rules
from tests.lockers.conftest import World, build_world


def test_a_raised_alarm_reaches_the_stream_and_so_does_its_clear(db: Session) -> None:
    w: World = build_world(db, None)  # type: ignore[arg-type]
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    state = LockerBankState(
        bank_id=w.bank.id, online=False, went_offline_at=utcnow() - timedelta(minutes=5)
    )
    db.add(state)
    db.flush()
    cursor = outbox_source(db, None).cursor
    alarm_rules.evaluate(db_session=db, now=utcnow())
    happened = outbox_source(db, cursor)
    assert "alarm.raised" in happened.kinds
    state.online = True
    db.flush()
    alarm_rules.evaluate(db_session=db, now=utcnow())
    assert list(outbox_source(db, happened.cursor).kinds) == ["alarm.cleared"]


def test_every_page_listens_to_the_clock_and_refreshes_the_badge(operator, page_client_for) -> None:  # type: ignore[no-untyped-def]
    html = page_client_for(operator).get("/ops/alarms").text
    assert 'sse-connect="/ops/live"' in html
    assert "data-clock" in html and 'sse-swap="clock"' in html
    assert 'hx-get="/ops/alarms/badge"' in html and "sse:changed" in html
