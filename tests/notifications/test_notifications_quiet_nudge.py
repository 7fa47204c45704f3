"""Quiet hours per city, pickup reminders before the deadline, and the group nudge."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.residents.models import Resident
from notifications import dispatch, nudge, reminders, service
from notifications.models import Message, MessageStatus, Nudge
from notifications.quiet_hours import QuietHours
from tests.factories import Factory
from tests.notifications.conftest import World

SHANGHAI = "Asia/Shanghai"  # UTC+8, no DST


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in March 2026, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("at", "quiet"),
    [(sh(10, 20, 59), False), (sh(10, 21), True), (sh(11, 3), True), (sh(11, 8), False)],
)
def test_quiet_hours_wrap_midnight(at: datetime, quiet: bool) -> None:
    assert QuietHours(time(21), time(8), SHANGHAI).is_quiet(at) is quiet


def test_next_and_latest_allowed_moments() -> None:
    hours = QuietHours(time(21), time(8), SHANGHAI)
    assert hours.next_allowed(sh(11, 3)) == sh(11, 8)
    assert hours.next_allowed(sh(11, 12)) == sh(11, 12)
    assert hours.latest_allowed_before(sh(11, 5)) == sh(10, 20, 59)
    assert QuietHours(time(13), time(14), SHANGHAI).is_quiet(sh(11, 13, 30))
    assert not QuietHours(time(0), time(0), SHANGHAI).is_quiet(sh(11, 3))


def test_quiet_hours_follow_daylight_saving() -> None:
    hours = QuietHours(time(22), time(7), "America/New_York")
    # 2026-03-08: clocks go forward at 02:00; 07:00 EDT is 11:00 UTC (EST would be 12:00)
    assert hours.next_allowed(datetime(2026, 3, 8, 8, 0, tzinfo=UTC)) == datetime(
        2026, 3, 8, 11, 0, tzinfo=UTC
    )


def _quiet_around(db: Session, make: Factory, now: datetime) -> None:
    """Make `now` quiet in the default city: quiet from an hour before to an hour after."""
    local = now.astimezone(ZoneInfo(SHANGHAI))
    service.update_settings(
        db_session=db,
        city_id=make.default_city().id,
        changes={
            "quiet_start": (local - timedelta(hours=1)).time().replace(microsecond=0),
            "quiet_end": (local + timedelta(hours=1)).time().replace(microsecond=0),
        },
    )


def _resident_of(db: Session, resident_id: int) -> Resident:
    resident = db.get(Resident, resident_id)
    assert resident is not None
    return resident


def test_the_ready_notice_ignores_quiet_hours_but_a_reminder_waits(
    db: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    parcel = world.parcel()
    now = datetime.now(UTC)
    _quiet_around(db, world.make, now)
    world.ready_event(parcel)
    (ready_id,) = dispatch.consume(db_session=db).to_send  # due now, quiet or not
    reminder, _ = service.create(
        db_session=db,
        key="reminder-in-quiet-hours",
        template="pickup_reminder",
        resident=_resident_of(db, parcel.resident_id),
        params={"parcel_id": parcel.id, "order_id": parcel.order_id},
    )
    assert db.get(Message, ready_id).not_before is None  # type: ignore[union-attr]
    assert reminder.not_before is not None and reminder.not_before > now + timedelta(minutes=50)


def test_a_reminder_a_few_hours_before_the_deadline_once(db: Session, world: World) -> None:
    deadline = sh(12, 18)
    parcel = world.parcel(deadline=deadline)
    assert reminders.scan(db_session=db, now=sh(12, 14)) == []  # 4 h before: not yet
    (first,) = reminders.scan(db_session=db, now=sh(12, 15, 5))
    assert reminders.scan(db_session=db, now=sh(12, 15, 10)) == []
    message = db.get(Message, first)
    assert message is not None
    assert message.template == "pickup_reminder"
    assert message.expires_at == deadline - timedelta(minutes=30)
    assert message.idempotency_key == f"pickup_reminder:{parcel.id}:{int(deadline.timestamp())}"


def test_a_reminder_due_in_quiet_hours_goes_out_the_evening_before(
    db: Session, world: World
) -> None:
    world.parcel(deadline=sh(12, 9))  # due 06:00, in quiet hours (21:00-08:00)
    assert reminders.scan(db_session=db, now=sh(11, 20, 30)) == []  # not yet due
    assert len(reminders.scan(db_session=db, now=sh(11, 20, 59))) == 1


def test_no_reminder_in_quiet_hours_or_right_after_the_ready_notice(
    db: Session, world: World
) -> None:
    world.parcel(deadline=sh(12, 23))  # due 20:00... but scanned at 22:00, in quiet hours
    assert reminders.scan(db_session=db, now=sh(12, 22)) == []
    fresh = world.parcel(deadline=datetime.now(UTC) + timedelta(hours=2))
    world.ready_event(fresh)
    dispatch.consume(db_session=db)
    service.update_settings(
        db_session=db,
        city_id=world.make.default_city().id,
        changes={"quiet_start": time(0), "quiet_end": time(0)},
    )
    assert reminders.scan(db_session=db) == []  # told 0 minutes ago that it is ready


def _group_setup(
    make: Factory, world: World, *, ordered_by_others: int, residents: int = 2
) -> tuple[list[Resident], object]:
    city = make.default_city()
    window = make.window(city, cutoff_in=timedelta(hours=2))
    hood = make.neighborhood(city)
    product = make.product(city, name="Free-range eggs", name_zh="散养鸡蛋")
    gb = make.group_buy(neighborhood=hood, window=window, product=product)  # min 10
    buyers = [world.resident(neighborhood=hood) for _ in range(residents)]
    for buyer in buyers:
        make.order(buyer, [(gb, 1)])
    if ordered_by_others:
        make.order(world.resident(neighborhood=hood), [(gb, ordered_by_others)])
    make.db.flush()
    return buyers, gb


def _open_all_day(db: Session, make: Factory) -> None:
    service.update_settings(
        db_session=db,
        city_id=make.default_city().id,
        changes={"quiet_start": time(0), "quiet_end": time(0)},
    )


def test_a_group_close_to_its_minimum_nudges_each_buyer_once(
    db: Session, world: World, make: Factory
) -> None:
    _open_all_day(db, make)
    buyers, gb = _group_setup(make, world, ordered_by_others=6)  # 8 of 10
    sent = nudge.scan(db_session=db)
    assert len(sent) == 3  # both buyers and the neighbour who ordered 6
    assert nudge.scan(db_session=db) == []  # at most one per resident and window
    message = db.scalars(select(Message).where(Message.resident_id == buyers[0].id)).one()
    assert message.template == "nudge_minimum"
    assert message.params["gap"] == 2 and message.params["price_minor"] == 990
    record = db.scalars(select(Nudge).where(Nudge.resident_id == buyers[0].id)).one()
    assert (record.target, record.gap, record.message_id) == ("minimum", 2, message.id)


def test_a_formed_group_near_its_next_tier_nudges_with_the_price(
    db: Session, world: World, make: Factory, deliver
) -> None:  # type: ignore[no-untyped-def]
    _open_all_day(db, make)
    buyers, _ = _group_setup(make, world, ordered_by_others=16)  # 18 of tier 20 at 8.90
    ids = nudge.scan(db_session=db)
    message = db.scalars(select(Message).where(Message.resident_id == buyers[0].id)).one()
    assert message.template == "nudge_tier"
    assert deliver(message.id) == "sent"
    assert message.id in ids


def test_far_from_any_threshold_no_nudge(db: Session, world: World, make: Factory) -> None:
    _open_all_day(db, make)
    _group_setup(make, world, ordered_by_others=0)  # 2 of 10: 8 away
    assert nudge.scan(db_session=db) == []


def test_nudges_respect_quiet_hours_and_opt_out(db: Session, world: World, make: Factory) -> None:
    buyers, _ = _group_setup(make, world, ordered_by_others=6)
    now = datetime.now(UTC)
    _quiet_around(db, make, now)
    assert nudge.scan(db_session=db, now=now) == []
    _open_all_day(db, make)
    service.set_opt_out(
        db_session=db, phone=buyers[0].phone, opted_out=True, keyword="STOP", source="inbound"
    )
    sent = nudge.scan(db_session=db, now=now)
    assert len(sent) == 2
    suppressed = db.scalars(select(Message).where(Message.resident_id == buyers[0].id)).one()
    assert suppressed.status is MessageStatus.SUPPRESSED
    assert nudge.scan(db_session=db, now=now) == []


def test_no_nudge_before_the_nudge_period_or_when_disabled(
    db: Session, world: World, make: Factory
) -> None:
    _open_all_day(db, make)
    _group_setup(make, world, ordered_by_others=6)
    early = datetime.now(UTC) - timedelta(hours=2)  # cut-off 4 h away, nudges from 3 h
    assert nudge.scan(db_session=db, now=early) == []
    service.update_settings(
        db_session=db, city_id=make.default_city().id, changes={"nudges_enabled": False}
    )
    assert nudge.scan(db_session=db) == []
