"""Reading queries of the alarms views: the list and its filters, the badge, an alarm's history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from app.core.errors import NotFound
from app.staff.queries import staff_display_names, staff_username_query
from ops_dashboard.alarm_states import ACTIVE, CLEARED_STATES, SEVERITY_RANK, UNACKNOWLEDGED, worst
from ops_dashboard.models import Alarm, AlarmLog, AlarmState, Severity

FILTERS = ("open", "active", "unack", "cleared", "all")
PAGE_SIZE = 50


class AlarmNotFound(NotFound):
    """No alarm with this id in the operator's city."""

    case = "alarm_not_found"


STATE_OF_FILTER: dict[str, tuple[AlarmState, ...]] = {
    "open": (AlarmState.ACTIVE_UNACK, AlarmState.ACTIVE_ACK, AlarmState.CLEARED_UNACK),
    "active": ACTIVE,
    "unack": UNACKNOWLEDGED,
    "cleared": CLEARED_STATES,
    "all": tuple(AlarmState),
}
# What each type says, in English (the catalog key) with the alarm's details as placeholders.
TEXTS = {
    "cold_chain": "{bank} {zone} zone at {temp}°C, limit {limit}°C ({parcels} parcels flagged)",
    "bank_offline": "{bank} offline {minutes} min: {inside} parcels inside, {coming} on the way",
    "door_jammed": "{bank} door {door}: {how}",
    "van_late": "Van {van} late by {minutes} min",
    "route_alarm": "Van {van} finished its route with {parcels} parcels aboard",
    "sms_failing": "{failed} of {total} SMS failed in the last 30 min ({percent}%)",
}
TYPE_LABELS = {
    "cold_chain": "Cold chain",
    "bank_offline": "Bank offline with parcels",
    "door_jammed": "Door jammed",
    "van_late": "Van late",
    "route_alarm": "Parcels aboard after the route",
    "sms_failing": "SMS failing",
}
STATE_LABELS = {
    AlarmState.ACTIVE_UNACK: "Active, not acknowledged",
    AlarmState.ACTIVE_ACK: "Active, acknowledged",
    AlarmState.CLEARED_UNACK: "Cleared, not acknowledged",
    AlarmState.CLEARED_ACK: "Cleared, acknowledged",
}
# Severity as the one-colour status badges show it.
SEVERITY_KIND = {
    Severity.CRITICAL: "failed",
    Severity.MAJOR: "late",
    Severity.MINOR: "assigned",
    Severity.WARNING: "unassigned",
}


def _of_city(city_id: int) -> ColumnElement[bool]:
    return or_(Alarm.city_id == city_id, Alarm.city_id.is_(None))


@dataclass
class AlarmPage:
    """One page of the list, with the count behind each filter."""

    alarms: list[Alarm]
    total: int
    counts: dict[str, int]
    names: dict[int, str]
    page: int

    @property
    def pages(self) -> int:
        """How many pages the filter has."""
        return max(1, -(-self.total // PAGE_SIZE))


def alarm_list(db_session: Session, city_id: int, show: str, page: int = 1) -> AlarmPage:
    """The city's alarms under a filter, worst and newest first, a page at a time."""
    per_state = dict(
        db_session.execute(
            select(Alarm.state, func.count()).where(_of_city(city_id)).group_by(Alarm.state)
        ).all()
    )
    counts = {
        key: sum(per_state.get(state, 0) for state in states)
        for key, states in STATE_OF_FILTER.items()
    }
    rank = case({s: r for s, r in SEVERITY_RANK.items()}, value=Alarm.severity)
    active_first = case((Alarm.state.in_(ACTIVE), 0), else_=1)
    alarms = list(
        db_session.scalars(
            select(Alarm)
            .where(_of_city(city_id), Alarm.state.in_(STATE_OF_FILTER[show]))
            .order_by(active_first, rank, Alarm.raised_at.desc(), Alarm.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    return AlarmPage(alarms, counts[show], counts, staff_names(db_session, alarms), page)


def staff_names(db_session: Session, alarms: list[Alarm]) -> dict[int, str]:
    """Who acknowledged these alarms, by id."""
    ids = {a.acknowledged_by_id for a in alarms if a.acknowledged_by_id is not None}
    return staff_display_names(db_session, ids)


@dataclass
class Badge:
    """The header's alarm badge: open alarms and the worst of them."""

    count: int
    unacknowledged: int
    worst: Severity | None

    @property
    def kind(self) -> str:
        """The badge colour."""
        return SEVERITY_KIND[self.worst] if self.worst else "done"


def badge(db_session: Session, city_id: int) -> Badge:
    """Active alarms of the city (one aggregate query)."""
    rows = db_session.execute(
        select(Alarm.severity, Alarm.state, func.count())
        .where(_of_city(city_id), Alarm.state.in_(ACTIVE))
        .group_by(Alarm.severity, Alarm.state)
    ).all()
    return Badge(
        count=sum(n for _, _, n in rows),
        unacknowledged=sum(n for _, state, n in rows if state == AlarmState.ACTIVE_UNACK),
        worst=worst([Severity(severity) for severity, _, _ in rows]),
    )


def get_alarm(db_session: Session, city_id: int, alarm_id: int) -> Alarm:
    """One alarm of the city, or a 404 naming it."""
    alarm = db_session.get(Alarm, alarm_id)
    if alarm is None or alarm.city_id not in (city_id, None):
        raise AlarmNotFound(f"alarm {alarm_id} not found", field="alarm_id")
    return alarm


def history(db_session: Session, alarm_id: int) -> list[tuple[AlarmLog, str | None]]:
    """What happened to an alarm, newest first, with who did it."""
    rows = db_session.execute(
        select(AlarmLog, staff_username_query(AlarmLog.actor_id))
        .where(AlarmLog.alarm_id == alarm_id)
        .order_by(AlarmLog.id.desc())
        .limit(200)
    ).all()
    return [(entry, name) for entry, name in rows]
