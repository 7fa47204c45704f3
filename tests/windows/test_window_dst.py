"""Windows are planned in local wall-clock time and stored in UTC, across clock changes.

The policy is in app/windows/schedule.py: cut-off and deadline are wall-clock hours from
ready-by; skipped local times move to the end of the gap; repeated ones take the first
occurrence."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.windows import schedule
from app.windows import service as window_service

BERLIN = ZoneInfo("Europe/Berlin")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _berlin(make):  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin", currency="EUR", country_code="DE")
    make.window_slot(
        city, name="morning", ready_by_local=time(11), cutoff_hours_before=5, pickup_hours_after=12
    )
    make.window_slot(
        city, name="evening", ready_by_local=time(18), cutoff_hours_before=5, pickup_hours_after=16
    )
    return city


def _by_key(windows):  # type: ignore[no-untyped-def]
    return {(w.local_date, w.slot_name): w for w in windows}


def test_shanghai_windows_are_eight_hours_ahead_of_utc(db, make) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Asia/Shanghai")
    make.window_slot(city, ready_by_local=time(11), cutoff_hours_before=5, pickup_hours_after=12)
    (window,) = window_service.generate(
        db_session=db, city_id=city.id, start=date(2026, 6, 1), days=1, now=LONG_AGO
    )
    assert window.ready_by == utc(2026, 6, 1, 3)
    assert window.cutoff_at == utc(2026, 5, 31, 22)  # 06:00 local
    assert window.pickup_deadline == utc(2026, 6, 1, 15)  # 23:00 local


def test_berlin_spring_forward_keeps_local_times_and_moves_utc(db, make) -> None:  # type: ignore[no-untyped-def]
    city = _berlin(make)
    windows = _by_key(
        window_service.generate(
            db_session=db, city_id=city.id, start=date(2026, 3, 28), days=2, now=LONG_AGO
        )
    )
    before, after = date(2026, 3, 28), date(2026, 3, 29)
    # 11:00 and 18:00 local on both days; UTC+1 before the change, UTC+2 after it.
    assert windows[(before, "morning")].ready_by == utc(2026, 3, 28, 10)
    assert windows[(before, "evening")].ready_by == utc(2026, 3, 28, 17)
    assert windows[(after, "morning")].ready_by == utc(2026, 3, 29, 9)
    assert windows[(after, "evening")].ready_by == utc(2026, 3, 29, 16)
    for window in windows.values():
        local = window.ready_by.astimezone(BERLIN)
        assert local.time() in (time(11), time(18))
        assert window.cutoff_at.astimezone(BERLIN).time() in (time(6), time(13))
    # The evening deadline of the 28th (10:00 next morning) is 15 elapsed hours, not 16.
    evening = windows[(before, "evening")]
    assert evening.pickup_deadline.astimezone(BERLIN).replace(tzinfo=None) == datetime(
        2026, 3, 29, 10
    )
    assert evening.pickup_deadline - evening.ready_by == timedelta(hours=15)


def test_berlin_fall_back_keeps_local_times_and_moves_utc(db, make) -> None:  # type: ignore[no-untyped-def]
    city = _berlin(make)
    windows = _by_key(
        window_service.generate(
            db_session=db, city_id=city.id, start=date(2026, 10, 24), days=2, now=LONG_AGO
        )
    )
    before, after = date(2026, 10, 24), date(2026, 10, 25)
    assert windows[(before, "morning")].ready_by == utc(2026, 10, 24, 9)  # UTC+2
    assert windows[(after, "morning")].ready_by == utc(2026, 10, 25, 10)  # UTC+1
    assert windows[(after, "evening")].ready_by == utc(2026, 10, 25, 17)
    assert windows[(after, "morning")].cutoff_at == utc(2026, 10, 25, 5)  # 06:00 CET
    evening = windows[(before, "evening")]  # deadline 10:00 on the 25th: 17 elapsed hours
    assert evening.pickup_deadline == utc(2026, 10, 25, 9)
    assert evening.pickup_deadline - evening.ready_by == timedelta(hours=17)


@pytest.mark.parametrize(
    ("local_date", "cutoff_utc", "elapsed_hours"),
    [
        (date(2026, 3, 29), utc(2026, 3, 28, 22), 11),  # 23:00 CET -> 11:00 CEST
        (date(2026, 10, 25), utc(2026, 10, 24, 21), 13),  # 23:00 CEST -> 11:00 CET
        (date(2026, 6, 1), utc(2026, 5, 31, 21), 12),
    ],
)
def test_cutoff_hours_are_wall_clock_hours_across_the_change(
    db, make, local_date, cutoff_utc, elapsed_hours
) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin")
    make.window_slot(city, ready_by_local=time(11), cutoff_hours_before=12, pickup_hours_after=12)
    (window,) = window_service.generate(
        db_session=db, city_id=city.id, start=local_date, days=1, now=LONG_AGO
    )
    assert window.cutoff_at == cutoff_utc
    assert window.cutoff_at.astimezone(BERLIN).time() == time(23)
    assert window.ready_by - window.cutoff_at == timedelta(hours=elapsed_hours)


def test_slot_at_a_skipped_local_time_moves_to_the_end_of_the_gap(db, make) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin")
    make.window_slot(
        city, name="night", ready_by_local=time(2, 30), cutoff_hours_before=5, pickup_hours_after=8
    )
    windows = _by_key(
        window_service.generate(
            db_session=db, city_id=city.id, start=date(2026, 3, 28), days=3, now=LONG_AGO
        )
    )
    assert windows[(date(2026, 3, 28), "night")].ready_by == utc(2026, 3, 28, 1, 30)
    gap_day = windows[(date(2026, 3, 29), "night")]
    assert gap_day.ready_by == utc(2026, 3, 29, 1)  # 02:30 never happens: 03:00 CEST
    assert gap_day.cutoff_at == utc(2026, 3, 28, 20, 30)  # 21:30 CET the evening before
    assert gap_day.pickup_deadline == utc(2026, 3, 29, 8, 30)  # 10:30 CEST
    assert windows[(date(2026, 3, 30), "night")].ready_by == utc(2026, 3, 30, 0, 30)


def test_slot_at_a_repeated_local_time_takes_the_first_occurrence(db, make) -> None:  # type: ignore[no-untyped-def]
    city = make.city(timezone="Europe/Berlin")
    make.window_slot(
        city, name="night", ready_by_local=time(2, 30), cutoff_hours_before=5, pickup_hours_after=8
    )
    (window,) = window_service.generate(
        db_session=db, city_id=city.id, start=date(2026, 10, 25), days=1, now=LONG_AGO
    )
    assert window.ready_by == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, not 02:30 CET
    assert window.ready_by.astimezone(BERLIN).utcoffset() == timedelta(hours=2)


def test_local_to_utc_rules() -> None:
    assert schedule.local_to_utc(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert schedule.local_to_utc(datetime(2026, 3, 29, 2, 59), BERLIN) == utc(2026, 3, 29, 1)
    assert schedule.local_to_utc(datetime(2026, 3, 29, 3, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert schedule.local_to_utc(datetime(2026, 10, 25, 2, 0), BERLIN) == utc(2026, 10, 25, 0)
    assert not schedule.exists(datetime(2026, 3, 29, 2, 30), BERLIN)
    assert schedule.exists(datetime(2026, 10, 25, 2, 30), BERLIN)
    # Samoa skipped 30 December 2011 entirely: noon that day is the first instant of the 31st.
    apia = ZoneInfo("Pacific/Apia")
    assert schedule.local_to_utc(datetime(2011, 12, 30, 12), apia) == utc(2011, 12, 30, 10)
    with pytest.raises(ValueError):
        schedule.local_to_utc(datetime(2026, 1, 1, tzinfo=UTC), BERLIN)


def test_times_keep_their_order_when_the_gap_swallows_the_cutoff() -> None:
    # Ready 03:00 CEST on spring-forward day, cut-off 1 wall-clock hour before: 02:00 does not
    # exist and would resolve to 03:00 itself, so the elapsed hour is used instead.
    times = schedule.window_times(
        local_date=date(2026, 3, 29),
        ready_by_local=time(3),
        cutoff_hours_before=1,
        pickup_hours_after=1,
        tz=BERLIN,
    )
    assert times.ready_by == utc(2026, 3, 29, 1)
    assert times.cutoff_at == utc(2026, 3, 29, 0)
    assert times.cutoff_at < times.ready_by < times.pickup_deadline
