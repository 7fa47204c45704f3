"""Alarms: the lifecycle (every illegal move refused), repeats, auto clear, duration
thresholds, acknowledgement by who/when/comment; the pass over the owners' tables; the pages."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import InvalidInput
from app.events.models import OutboxEvent
from app.staff.models import StaffUser
from lockers.models import LockerBankState
from logistics.models import ParcelStatus
from ops_dashboard import alarm_rules, alarm_states
from ops_dashboard.alarm_states import Cause, IllegalAlarmMove
from ops_dashboard.models import Alarm, AlarmLog, AlarmState, Severity
from tests.lockers.conftest import World, build_world

S = AlarmState


def _cause(severity: Severity = Severity.MAJOR, source: str = "bank:1") -> Cause:
    return Cause(source=source, type="bank_offline", severity=severity, message="down")


def _events(db: Session, kind: str) -> int:
    return len(list(db.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind))))


def _alarm_in(db: Session, state: AlarmState) -> Alarm:
    now = utcnow()
    alarm = alarm_states.raise_alarm(db_session=db, cause=_cause(source=f"s:{state}"), now=now)
    alarm.state = state
    db.flush()
    return alarm


def test_raise_repeat_clear_and_raise_again(db: Session, operator: StaffUser) -> None:
    now = utcnow()
    alarm = alarm_states.raise_alarm(db_session=db, cause=_cause(), now=now)
    assert (alarm.state, alarm.count) == (S.ACTIVE_UNACK, 1)
    later = now + timedelta(minutes=1)
    again = alarm_states.raise_alarm(db_session=db, cause=_cause(Severity.CRITICAL), now=later)
    assert again.id == alarm.id and again.count == 1 and again.last_seen_at == later
    assert again.severity == Severity.CRITICAL and _events(db, "alarm.raised") == 1
    alarm_states.acknowledge(
        db_session=db, alarm=alarm, operator_id=operator.id, comment=" van sent ", now=later
    )
    assert (alarm.state, alarm.acknowledged_by_id, alarm.ack_comment) == (
        S.ACTIVE_ACK,
        operator.id,
        "van sent",
    )
    assert alarm.acknowledged_at == later
    alarm_states.clear_alarm(db_session=db, alarm=alarm, now=later)
    assert alarm.state == S.CLEARED_ACK and alarm.cleared_at == later
    assert _events(db, "alarm.cleared") == 1
    back = alarm_states.raise_alarm(db_session=db, cause=_cause(), now=later + timedelta(hours=1))
    assert back.id == alarm.id and back.state == S.ACTIVE_UNACK and back.count == 2
    assert back.acknowledged_by_id is None and back.cleared_at is None
    assert _events(db, "alarm.raised") == 2
    actions = list(db.scalars(select(AlarmLog.action).where(AlarmLog.alarm_id == alarm.id)))
    assert actions == ["raised", "severity", "acknowledged", "cleared", "raised"]


@pytest.mark.parametrize("state", [S.CLEARED_UNACK, S.CLEARED_ACK])
def test_clearing_a_cleared_alarm_is_refused(db: Session, state: AlarmState) -> None:
    alarm = _alarm_in(db, state)
    with pytest.raises(IllegalAlarmMove):
        alarm_states.clear_alarm(db_session=db, alarm=alarm, now=utcnow())
    assert alarm.state == state


@pytest.mark.parametrize("state", [S.ACTIVE_ACK, S.CLEARED_ACK])
def test_acknowledging_twice_is_refused(
    db: Session, operator: StaffUser, state: AlarmState
) -> None:
    alarm = _alarm_in(db, state)
    with pytest.raises(IllegalAlarmMove):
        alarm_states.acknowledge(
            db_session=db, alarm=alarm, operator_id=operator.id, comment="", now=utcnow()
        )
    assert alarm.state == state


def test_cleared_unacknowledged_can_still_be_acknowledged(db: Session, operator: StaffUser) -> None:
    alarm = _alarm_in(db, S.CLEARED_UNACK)
    alarm_states.acknowledge(
        db_session=db, alarm=alarm, operator_id=operator.id, comment="ok", now=utcnow()
    )
    assert alarm.state == S.CLEARED_ACK


def test_a_too_long_comment_names_the_field(db: Session, operator: StaffUser) -> None:
    alarm = _alarm_in(db, S.ACTIVE_UNACK)
    with pytest.raises(InvalidInput) as refused:
        alarm_states.acknowledge(
            db_session=db, alarm=alarm, operator_id=operator.id, comment="x" * 501, now=utcnow()
        )
    assert refused.value.field == "comment"


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _offline(w: World, minutes_ago: float) -> LockerBankState:
    state = LockerBankState(
        bank_id=w.bank.id,
        online=False,
        went_offline_at=utcnow() - timedelta(minutes=minutes_ago),
        state={},
    )
    w.db.add(state)
    w.db.flush()
    return state


def test_a_bank_offline_with_parcels_alarms_after_its_threshold_and_clears(w: World) -> None:
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    state = _offline(w, minutes_ago=0.5)
    now = utcnow()
    assert alarm_rules.evaluate(db_session=w.db, now=now).raised == 0  # a blip
    report = alarm_rules.evaluate(db_session=w.db, now=now + timedelta(minutes=3))
    assert report.raised == 1
    alarm = w.db.scalars(select(Alarm).where(Alarm.type == "bank_offline")).one()
    assert alarm.severity == Severity.CRITICAL and alarm.details["inside"] == 1
    assert alarm.source == f"bank:{w.bank.id}" and alarm.city_id == w.hood.city_id
    # idempotent: the same pass again repeats, raises nothing new
    assert alarm_rules.evaluate(db_session=w.db, now=now + timedelta(minutes=3)).raised == 0
    assert alarm.count == 1
    state.online = True
    w.db.flush()
    report = alarm_rules.evaluate(db_session=w.db, now=now + timedelta(minutes=4))
    assert report.cleared == 1 and alarm.state == S.CLEARED_UNACK


def test_parcels_turned_away_keep_an_offline_bank_alarmed(w: World) -> None:
    """The van came, the bank refused the deposit: nothing inside or coming, still the cause."""
    state = _offline(w, minutes_ago=10)
    parcel = w.parcel("A1", status=ParcelStatus.UNDELIVERED)
    parcel.failure_reason = "locker_offline"
    parcel.updated_at = utcnow() - timedelta(minutes=5)
    w.db.flush()
    assert alarm_rules.evaluate(db_session=w.db, now=utcnow()).raised == 1
    alarm = w.db.scalars(select(Alarm).where(Alarm.type == "bank_offline")).one()
    assert alarm.details["turned_away"] == 1 and alarm.details["coming"] == 0
    assert "1 turned away" in alarm.message
    # turned away before this outage began: not this outage's doing
    parcel.updated_at = state.went_offline_at - timedelta(minutes=1)  # type: ignore[operator]
    w.db.flush()
    assert alarm_rules.evaluate(db_session=w.db, now=utcnow()).cleared == 1


def test_a_bank_offline_and_empty_is_no_alarm(w: World) -> None:
    _offline(w, minutes_ago=30)
    assert alarm_rules.evaluate(db_session=w.db, now=utcnow()).raised == 0


def test_an_open_door_alarms_only_after_loading_time_and_a_jam_at_once(w: World) -> None:
    from lockers.models import LockerEvent

    now = utcnow()
    w.db.add(
        LockerBankState(
            bank_id=w.bank.id,
            online=True,
            state={"compartments": {"A1": {"door": "open"}, "A2": {"door": "jammed"}}},
        )
    )
    w.db.add(
        LockerEvent(
            bank_id=w.bank.id,
            event_id="ev-door-1",
            type="door_opened",
            seq=1,
            locker_ts=now,
            received_at=now,
            payload={"compartment": "A1"},
        )
    )
    w.db.flush()
    alarm_rules.evaluate(db_session=w.db, now=now + timedelta(minutes=2))
    sources = set(w.db.scalars(select(Alarm.source).where(Alarm.type == "door_jammed")))
    assert sources == {f"bank:{w.bank.id}:A2"}
    alarm_rules.evaluate(db_session=w.db, now=now + timedelta(minutes=11))
    sources = set(w.db.scalars(select(Alarm.source).where(Alarm.type == "door_jammed")))
    assert sources == {f"bank:{w.bank.id}:A1", f"bank:{w.bank.id}:A2"}


def test_a_failing_rule_clears_nothing(w: World) -> None:
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    _offline(w, minutes_ago=10)
    alarm_rules.evaluate(db_session=w.db, now=utcnow())

    def broken(db: Session, now: object) -> list[Cause]:
        raise RuntimeError("database hiccup")

    report = alarm_rules.evaluate(db_session=w.db, now=utcnow(), rules={"bank_offline": broken})
    assert report.errors and report.cleared == 0
    assert w.db.scalars(select(Alarm.state)).one() == S.ACTIVE_UNACK


def test_the_pages_badge_list_and_acknowledge(w: World, page_client_for) -> None:  # type: ignore[no-untyped-def]
    w.parcel("A1", status=ParcelStatus.READY_FOR_PICKUP)
    _offline(w, minutes_ago=10)
    alarm_rules.evaluate(db_session=w.db, now=utcnow())
    alarm = w.db.scalars(select(Alarm)).one()
    client = page_client_for(w.operator)
    badge = client.get("/ops/alarms/badge").text
    assert 'data-count="1"' in badge and "s-failed" in badge and 'href="/ops/alarms"' in badge
    page = client.get("/ops/alarms").text
    assert w.bank.code in page and "Acknowledge" in page
    assert client.get("/ops/alarms?show=bogus").status_code == 422
    answer = client.post(
        f"/ops/alarms/{alarm.id}/ack", data={"comment": "driver told"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert alarm.state == S.ACTIVE_ACK and alarm.acknowledged_by_id == w.operator.id
    again = client.post(f"/ops/alarms/{alarm.id}/ack", data={"comment": "twice"})
    assert again.status_code == 409 and "already acknowledged" in again.text
    detail = client.get(f"/ops/alarms/{alarm.id}").text
    assert "driver told" in detail and "acknowledged" in detail
    assert client.get("/ops/alarms/999999").status_code == 404
    assert 'data-count="1"' in client.get("/ops/alarms/badge").text
    assert client.get("/ops/alarms?show=unack").text.count("data-alarm-id") == 0


def test_every_alarm_type_reads_in_chinese(w: World, page_client_for) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    details = {
        "cold_chain": {"bank": "B", "zone": "chilled", "temp": "9.0", "limit": "5.0", "parcels": 2},
        "bank_offline": {"bank": "B", "minutes": 3, "inside": 1, "coming": 0},
        "door_jammed": {"bank": "B", "door": "A1", "how": "jammed", "minutes": 0},
        "van_late": {"van": "V1", "minutes": 20},
        "route_alarm": {"van": "V1", "parcels": 3},
        "sms_failing": {"failed": 6, "total": 10, "percent": 60},
    }
    for alarm_type, values in details.items():
        cause = Cause(
            source=f"zh:{alarm_type}",
            type=alarm_type,
            severity=Severity.MINOR,
            message=alarm_type,
            city_id=w.hood.city_id,
            details=values,
        )
        alarm_states.raise_alarm(db_session=w.db, cause=cause, now=now)
    client = page_client_for(w.operator)
    client.cookies.set("pickup_lang", "zh")
    html = client.get("/ops/alarms").text
    for text in ("冷链", "晚点 20 分钟", "60%", "3 个包裹", "柜内 1 个包裹", "卡住"):
        assert text in html
    assert client.get("/ops").status_code == 200
