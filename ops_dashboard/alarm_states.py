"""The alarm lifecycle, as device platforms have it.

    raise:        (none) | cleared_*  -> active_unack   (a new occurrence: count + 1)
                  active_*            -> same state     (a repeat: last seen, severity, message)
    clear:        active_unack        -> cleared_unack
                  active_ack          -> cleared_ack
    acknowledge:  active_unack        -> active_ack
                  cleared_unack       -> cleared_ack

Every other move is refused (`IllegalAlarmMove`, a 409). A new occurrence and a clear each
emit an outbox event (`alarm.raised`, `alarm.cleared`), an acknowledgement `alarm.acknowledged`,
so every operator's live stream carries them. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput
from app.events import service as event_service
from ops_dashboard.models import Alarm, AlarmLog, AlarmState, Severity

RAISED, CLEARED, ACKNOWLEDGED = "alarm.raised", "alarm.cleared", "alarm.acknowledged"
ACTIVE = (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK)
CLEARED_STATES = (AlarmState.CLEARED_UNACK, AlarmState.CLEARED_ACK)
UNACKNOWLEDGED = (AlarmState.ACTIVE_UNACK, AlarmState.CLEARED_UNACK)
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.WARNING: 3}
CLEAR_MOVES = {
    AlarmState.ACTIVE_UNACK: AlarmState.CLEARED_UNACK,
    AlarmState.ACTIVE_ACK: AlarmState.CLEARED_ACK,
}
ACK_MOVES = {
    AlarmState.ACTIVE_UNACK: AlarmState.ACTIVE_ACK,
    AlarmState.CLEARED_UNACK: AlarmState.CLEARED_ACK,
}
COMMENT_MAX = 500


class IllegalAlarmMove(Conflict):
    code = "illegal_alarm_move"


class CommentTooLong(InvalidInput):
    """An acknowledgement's comment is over COMMENT_MAX characters."""

    case = "comment_too_long"


@dataclass(frozen=True)
class Cause:
    """A condition a rule found: the alarm it means, and what to show."""

    source: str
    type: str
    severity: Severity
    message: str
    city_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """The alarm's identity."""
        return (self.source, self.type)


def _log(db_session: Session, alarm: Alarm, action: str, at: datetime, **kw: Any) -> None:
    db_session.add(
        AlarmLog(
            alarm_id=alarm.id,
            at=at,
            action=action,
            state=alarm.state,
            severity=alarm.severity,
            **kw,
        )
    )


def _emit(db_session: Session, kind: str, alarm: Alarm, at: datetime) -> None:
    event_service.emit(
        db_session=db_session,
        kind=kind,
        dedupe_key=f"{kind}:{alarm.id}:{alarm.count}:{at.isoformat()}",
        payload={
            "alarm_id": alarm.id,
            "source": alarm.source,
            "type": alarm.type,
            "severity": alarm.severity.value,
            "state": alarm.state.value,
            "city_id": alarm.city_id,
        },
    )


def _insert(db_session: Session, cause: Cause, now: datetime) -> Alarm | None:
    alarm = Alarm(
        city_id=cause.city_id,
        source=cause.source,
        type=cause.type,
        severity=cause.severity,
        state=AlarmState.ACTIVE_UNACK,
        message=cause.message[:300],
        details=cause.details,
        count=1,
        first_raised_at=now,
        raised_at=now,
        last_seen_at=now,
    )
    try:
        with db_session.begin_nested():
            db_session.add(alarm)
    except IntegrityError:  # another pass raised it first
        return None
    return alarm


def raise_alarm(
    *, db_session: Session, cause: Cause, now: datetime, existing: Alarm | None = None
) -> Alarm:
    """Raise the cause's alarm, or update it when it is already active (a repeat)."""
    alarm = existing or db_session.scalar(
        select(Alarm).where(Alarm.source == cause.source, Alarm.type == cause.type)
    )
    if alarm is None:
        alarm = _insert(db_session, cause, now)
        if alarm is not None:
            _log(db_session, alarm, "raised", now)
            _emit(db_session, RAISED, alarm, now)
            return alarm
        return raise_alarm(db_session=db_session, cause=cause, now=now)
    alarm.last_seen_at = now
    alarm.message = cause.message[:300]
    alarm.details = cause.details
    if alarm.state in ACTIVE:
        if alarm.severity != cause.severity:
            alarm.severity = cause.severity
            _log(db_session, alarm, "severity", now)
        return alarm
    alarm.state = AlarmState.ACTIVE_UNACK
    alarm.severity = cause.severity
    alarm.count += 1
    alarm.raised_at = now
    alarm.cleared_at = None
    alarm.acknowledged_at = None
    alarm.acknowledged_by_id = None
    alarm.ack_comment = None
    db_session.flush()
    _log(db_session, alarm, "raised", now)
    _emit(db_session, RAISED, alarm, now)
    return alarm


def clear_alarm(*, db_session: Session, alarm: Alarm, now: datetime) -> Alarm:
    """Its cause ended: active -> cleared (acknowledged or not, as it was)."""
    target = CLEAR_MOVES.get(alarm.state)
    if target is None:
        raise IllegalAlarmMove(f"alarm {alarm.id} is already cleared", field="alarm_id")
    alarm.state = target
    alarm.cleared_at = now
    db_session.flush()
    _log(db_session, alarm, "cleared", now)
    _emit(db_session, CLEARED, alarm, now)
    return alarm


def acknowledge(
    *, db_session: Session, alarm: Alarm, operator_id: int, comment: str, now: datetime
) -> Alarm:
    """An operator saw it: who, when, and what they do about it."""
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise CommentTooLong(f"at most {COMMENT_MAX} characters", field="comment")
    target = ACK_MOVES.get(alarm.state)
    if target is None:
        raise IllegalAlarmMove(f"alarm {alarm.id} is already acknowledged", field="alarm_id")
    alarm.state = target
    alarm.acknowledged_at = now
    alarm.acknowledged_by_id = operator_id
    alarm.ack_comment = comment or None
    db_session.flush()
    _log(db_session, alarm, "acknowledged", now, actor_id=operator_id, comment=comment or None)
    _emit(db_session, ACKNOWLEDGED, alarm, now)
    return alarm


def worst(severities: list[Severity]) -> Severity | None:
    """The most severe of some severities (None for none)."""
    return min(severities, key=SEVERITY_RANK.__getitem__) if severities else None
