"""The due-driven tick on a simulated clock: cut-offs at their time (once), windows generated
ahead (never twice), expiry at the pickup deadline, and the production launcher's enqueue."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clockwork import QueuedCutoffs, ThreadedCutoffs, tick
from app.core.clock import SimulatedClock
from app.core.enums import CompartmentSize, TemperatureClass
from app.windows.models import DeliveryWindow
from logistics.models import Parcel, ParcelStatus, PipelineRun, RunStatus
from tests.factories import Factory
from tests.logistics.conftest import World

LOCKERS = {
    TemperatureClass.CHILLED: {CompartmentSize.S: 4, CompartmentSize.M: 2},
    TemperatureClass.FROZEN: {CompartmentSize.S: 4},
}


def _city_with_orders(world: World) -> None:
    world.van()
    hood, _ = world.hood(lockers=LOCKERS)
    for _ in range(2):
        world.order(hood, [(world.chilled, 1), (world.frozen, 1)], confirmed=False)


def _run(committed: sessionmaker[Session], window_id: int) -> PipelineRun | None:
    with committed() as check:
        return check.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))


def test_tick_runs_the_cutoff_at_its_time_and_only_once(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database, sim_clock: SimulatedClock
) -> None:
    world, session = committed_world()
    _city_with_orders(world)
    session.commit()
    cutoffs = ThreadedCutoffs(session_factory=committed)

    early = tick(launcher=cutoffs, session_factory=committed)
    cutoffs.wait(60)
    assert early.cutoffs_launched == []
    assert _run(committed, world.window.id) is None

    sim_clock.advance_to(world.window.cutoff_at + timedelta(minutes=1))
    due = tick(launcher=cutoffs, session_factory=committed)
    assert due.cutoffs_launched == [world.window.id]
    cutoffs.wait(120)
    run = _run(committed, world.window.id)
    assert run is not None and run.status == RunStatus.SUCCEEDED, run and run.error
    assert run.attempts == 1

    sim_clock.advance(timedelta(minutes=30))
    again = tick(launcher=cutoffs, session_factory=committed)
    cutoffs.wait(60)
    assert again.cutoffs_launched == []
    run = _run(committed, world.window.id)
    assert run is not None and run.attempts == 1


def test_a_cutoff_still_running_in_this_process_is_not_launched_twice(
    committed: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from logistics import pipeline

    release, calls = threading.Event(), []

    def slow_cutoff(**kw: Any) -> None:
        calls.append(kw["window_id"])
        release.wait(10)

    monkeypatch.setattr(pipeline, "run_cutoff", slow_cutoff)
    cutoffs = ThreadedCutoffs(session_factory=committed)
    assert cutoffs.launch(42) is True
    assert cutoffs.launch(42) is False  # still running
    assert cutoffs.launch(43) is True  # another window runs beside it
    assert cutoffs.running() == [42, 43]
    release.set()
    cutoffs.wait(10)
    assert cutoffs.running() == []
    assert sorted(calls) == [42, 43]


def test_windows_are_generated_ahead_and_never_twice(  # type: ignore[no-untyped-def]
    committed, app_database, sim_clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.settings import get_settings

    monkeypatch.setattr(get_settings(), "clockwork_days_ahead", 2)
    with committed() as session:
        make = Factory(session)
        city = make.city(timezone="Etc/GMT")
        make.window_slot(city, name="morning", ready_by_local=time(11, 0), cutoff_hours_before=5)
        make.window_slot(city, name="evening", ready_by_local=time(18, 0), cutoff_hours_before=5)
        session.commit()
        city_id = city.id
    # 00:30 UTC (= local, Etc/GMT): every cut-off of today and tomorrow is still ahead
    today = sim_clock.now().date() + timedelta(days=1)
    sim_clock.advance_to(datetime.combine(today, time(0, 30), tzinfo=UTC))

    first = tick(launcher=ThreadedCutoffs(committed), session_factory=committed)
    second = tick(launcher=ThreadedCutoffs(committed), session_factory=committed)

    assert first.windows_created == 4
    assert second.windows_created == 0
    with committed() as check:
        rows = check.execute(
            select(DeliveryWindow.local_date, DeliveryWindow.slot_name).where(
                DeliveryWindow.city_id == city_id
            )
        ).all()
    assert sorted(rows) == sorted(
        (today + timedelta(days=d), slot) for d in range(2) for slot in ("morning", "evening")
    )


def test_expiry_runs_at_the_pickup_deadline(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database, sim_clock: SimulatedClock
) -> None:
    world, session = committed_world()
    _city_with_orders(world)
    session.commit()
    cutoffs = ThreadedCutoffs(session_factory=committed)
    sim_clock.advance_to(world.window.cutoff_at + timedelta(minutes=1))
    tick(launcher=cutoffs, session_factory=committed)
    cutoffs.wait(120)
    with committed() as db_session:
        parcel = db_session.scalars(
            select(Parcel).where(Parcel.window_id == world.window.id).order_by(Parcel.id)
        ).first()
        assert parcel is not None
        parcel.status = ParcelStatus.READY_FOR_PICKUP  # as if deposited and not collected
        db_session.commit()
        parcel_id, deadline = parcel.id, parcel.pickup_deadline
    assert deadline is not None

    sim_clock.advance_to(deadline - timedelta(minutes=1))
    before = tick(launcher=cutoffs, session_factory=committed)
    assert before.parcels_expired == 0

    sim_clock.advance_to(deadline)
    at_deadline = tick(launcher=cutoffs, session_factory=committed)
    assert at_deadline.parcels_expired == 1
    with committed() as check:
        assert check.get(Parcel, parcel_id).status == ParcelStatus.EXPIRED  # type: ignore[union-attr]


def test_production_launcher_enqueues_a_due_cutoff_once(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database, sim_clock: SimulatedClock, monkeypatch
) -> None:
    from logistics import tasks as logistics_tasks

    sent: list[tuple[Any, ...]] = []

    def fake_apply_async(args: tuple[Any, ...], **options: Any) -> None:
        sent.append((args, options))

    monkeypatch.setattr(logistics_tasks.run_cutoff_task, "apply_async", fake_apply_async)
    world, session = committed_world()
    _city_with_orders(world)
    session.commit()
    queued = QueuedCutoffs(session_factory=committed)
    sim_clock.advance_to(world.window.cutoff_at + timedelta(seconds=1))

    tick(launcher=queued, session_factory=committed)
    tick(launcher=queued, session_factory=committed)

    assert sent == [((world.window.id,), {"queue": "routing"})]
    with committed() as check:
        pending = check.scalar(
            select(func.count())
            .select_from(PipelineRun)
            .where(PipelineRun.window_id == world.window.id)
        )
    assert pending == 1
    # after the retry delay with no worker having taken it, it is enqueued again
    sim_clock.advance(timedelta(hours=1))
    tick(launcher=queued, session_factory=committed)
    assert len(sent) == 2
