"""Window generation is idempotent and skips windows whose cut-off has passed."""

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import func, select

from app.core.errors import InvalidInput
from app.windows import service as window_service
from app.windows.models import DeliveryWindow

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _count(db, city_id: int) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(
        select(func.count()).select_from(DeliveryWindow).where(DeliveryWindow.city_id == city_id)
    )


def _city_with_two_slots(make):  # type: ignore[no-untyped-def]
    city = make.city()
    make.window_slot(city, name="morning", ready_by_local=time(11), cutoff_hours_before=5)
    make.window_slot(city, name="evening", ready_by_local=time(18), cutoff_hours_before=5)
    return city


def test_generate_twice_creates_nothing_new(db, make) -> None:  # type: ignore[no-untyped-def]
    city = _city_with_two_slots(make)
    first = window_service.generate(
        db_session=db, city_id=city.id, start=date(2027, 1, 10), days=3, now=LONG_AGO
    )
    assert len(first) == 6 and _count(db, city.id) == 6
    again = window_service.generate(
        db_session=db, city_id=city.id, start=date(2027, 1, 10), days=3, now=LONG_AGO
    )
    assert again == [] and _count(db, city.id) == 6
    overlapping = window_service.generate(
        db_session=db, city_id=city.id, start=date(2027, 1, 12), days=2, now=LONG_AGO
    )
    assert {(w.local_date, w.slot_name) for w in overlapping} == {
        (date(2027, 1, 13), "morning"),
        (date(2027, 1, 13), "evening"),
    }
    assert _count(db, city.id) == 8


def test_windows_whose_cutoff_has_passed_are_not_created(db, make) -> None:  # type: ignore[no-untyped-def]
    city = _city_with_two_slots(make)  # Asia/Shanghai: cut-offs 06:00 and 13:00 local
    noon_local = datetime(2027, 1, 10, 4, tzinfo=UTC)  # 12:00 in Shanghai
    created = window_service.generate(
        db_session=db, city_id=city.id, start=date(2027, 1, 10), days=2, now=noon_local
    )
    assert [(w.local_date, w.slot_name) for w in created] == [
        (date(2027, 1, 10), "evening"),
        (date(2027, 1, 11), "morning"),
        (date(2027, 1, 11), "evening"),
    ]


def test_a_city_without_slots_is_refused(db, make) -> None:  # type: ignore[no-untyped-def]
    city = make.city()
    with pytest.raises(InvalidInput) as error:
        window_service.generate(db_session=db, city_id=city.id, start=date(2027, 1, 1), days=1)
    assert error.value.field == "city_id"


def test_cities_have_their_own_windows(db, make) -> None:  # type: ignore[no-untyped-def]
    one, two = _city_with_two_slots(make), _city_with_two_slots(make)
    for city in (one, two):
        window_service.generate(
            db_session=db, city_id=city.id, start=date(2027, 2, 1), days=1, now=LONG_AGO
        )
    assert _count(db, one.id) == 2 and _count(db, two.id) == 2


def test_concurrent_generation_creates_each_window_once(committed) -> None:  # type: ignore[no-untyped-def]
    import threading

    from app.cities.models import City, WindowSlot

    with committed() as session:
        city = City(name="Racetown", timezone="Asia/Shanghai", currency="CNY", country_code="CN")
        session.add(city)
        session.flush()
        for name, hour in (("morning", 11), ("evening", 18)):
            session.add(
                WindowSlot(
                    city_id=city.id,
                    name=name,
                    ready_by_local=time(hour),
                    cutoff_hours_before=5,
                    pickup_hours_after=12,
                )
            )
        session.commit()
        city_id = city.id
    created: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def generate() -> None:
        try:
            with committed() as session:
                barrier.wait()
                windows = window_service.generate(
                    db_session=session,
                    city_id=city_id,
                    start=date(2027, 4, 1),
                    days=5,
                    now=LONG_AGO,
                )
                session.commit()
                created.append(len(windows))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(created) == 10
    with committed() as session:
        assert _count(session, city_id) == 10
