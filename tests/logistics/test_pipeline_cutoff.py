"""The cut-off pipeline: every step recorded, idempotent re-runs, resumable after a crash."""

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.core import db as core_db
from app.core.enums import CompartmentSize, TemperatureClass
from app.core.errors import Conflict
from app.events.models import OutboxEvent
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.orders.models import Order, OrderStatus
from app.windows.models import DeliveryWindow, WindowStatus
from logistics import cutoff_steps, pipeline
from logistics.models import (
    Parcel,
    ParcelStatus,
    PipelineRun,
    Route,
    RouteStatus,
    RouteStop,
    RunStatus,
)
from tests.logistics.conftest import World, fast_settings

LOCKERS = {
    TemperatureClass.CHILLED: {CompartmentSize.S: 4, CompartmentSize.M: 2},
    TemperatureClass.FROZEN: {CompartmentSize.S: 4},
}


def _factory(db: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits are savepoints rolled back at the end."""
    return sessionmaker(
        bind=db.get_bind(), expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


def _city(world: World, *, hoods: int = 3, orders_per_hood: int = 3) -> None:
    world.van()
    world.van()
    for n in range(hoods):
        hood, _ = world.hood(km_north=1.0 + n, km_east=0.5 * n, lockers=LOCKERS)
        for _ in range(orders_per_hood):
            world.order(hood, [(world.chilled, 2), (world.frozen, 1)], confirmed=False)


def _state(db: Session, window_id: int) -> dict[str, Any]:
    """What the cut-off of one window created: parcels, bookings, routes, stops, events."""
    db.expire_all()
    parcels = list(db.scalars(select(Parcel).where(Parcel.window_id == window_id)))
    route_ids = list(db.scalars(select(Route.id).where(Route.window_id == window_id)))
    events = [
        e.kind
        for e in db.scalars(select(OutboxEvent))
        if e.payload.get("window_id") == window_id
        or e.payload.get("parcel_id") in {p.id for p in parcels}
    ]
    return {
        "parcels": sorted(
            (p.id, p.order_id, p.temperature_class, p.sequence, p.compartment_id, p.route_stop_id)
            for p in parcels
        ),
        "reserved": db.scalar(
            select(func.count())
            .select_from(Compartment)
            .where(
                Compartment.status == CompartmentStatus.RESERVED,
                Compartment.id.in_([p.compartment_id for p in parcels if p.compartment_id]),
            )
        ),
        "routes": sorted(
            (r.id, r.vehicle_id, r.status)
            for r in db.scalars(select(Route).where(Route.window_id == window_id))
        ),
        "stops": db.scalar(
            select(func.count()).select_from(RouteStop).where(RouteStop.route_id.in_(route_ids))
        ),
        "events": Counter(events),
    }


def test_cutoff_closes_packs_reserves_routes_and_publishes(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _city(world)
    report = pipeline.run_cutoff(
        session_factory=_factory(db), window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded", report.error
    assert [s.name for s in report.steps] == list(cutoff_steps.STEPS)
    assert all(s.status == "done" and s.duration_s is not None for s in report.steps)
    steps = {s.name: s for s in report.steps}
    assert steps["close"].detail["orders_confirmed"] == 9
    assert steps["pack"].detail["parcels_total"] == 18
    assert steps["reserve"].detail["parcels_reserved"] == 18
    assert steps["route"].detail["unassigned_stops"] == 0
    assert steps["route"].detail["routes"] >= 1
    assert report.unassigned == []
    db.expire_all()
    window = db.get(DeliveryWindow, world.window.id)
    assert window is not None and window.status == WindowStatus.CLOSED
    assert set(db.scalars(select(Order.status).where(Order.window_id == world.window.id))) == {
        OrderStatus.PACKED
    }
    assert set(db.scalars(select(Route.status).where(Route.window_id == world.window.id))) == {
        RouteStatus.PUBLISHED
    }
    parcels = list(db.scalars(select(Parcel).where(Parcel.window_id == world.window.id)))
    assert all(p.status == ParcelStatus.RESERVED and p.route_stop_id for p in parcels)
    reserved = [
        e
        for e in db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.reserved"))
        if e.payload["window_id"] == world.window.id
    ]
    assert sorted(e.payload["parcel_id"] for e in reserved) == sorted(p.id for p in parcels)
    sample = reserved[0].payload
    parcel = db.get(Parcel, sample["parcel_id"])
    compartment = db.get(Compartment, parcel.compartment_id)  # type: ignore[union-attr]
    assert sample["compartment_id"] == compartment.id  # type: ignore[union-attr]
    assert sample["compartment_label"] == compartment.label  # type: ignore[union-attr]
    assert sample["bank_id"] == compartment.bank_id  # type: ignore[union-attr]


def test_rerun_duplicates_nothing(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _city(world)
    factory = _factory(db)
    first = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    before = _state(db, world.window.id)
    second = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert _state(db, world.window.id) == before
    assert second.attempts == 2
    assert all(s.attempts == 1 for s in second.steps)  # every step skipped the second time


def test_resumes_after_a_crash_in_the_middle_of_a_step(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _city(world, hoods=2, orders_per_hood=4)
    factory = _factory(db)
    settings = fast_settings(batch_size=3)

    def crash(step: str, phase: str, done: int, total: int) -> None:
        if step == "reserve" and phase == "progress":
            raise RuntimeError("worker killed")

    failed = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=settings, on_event=crash
    )
    assert failed.status == "failed"
    steps = {s.name: s for s in failed.steps}
    assert steps["reserve"].status == "failed"
    assert "worker killed" in (steps["reserve"].error or "")
    assert (steps["route"].status, steps["publish"].status) == ("pending", "pending")
    db.expire_all()
    partly = db.scalar(
        select(func.count())
        .select_from(Parcel)
        .where(Parcel.window_id == world.window.id)
        .where(Parcel.compartment_id.is_not(None))
    )
    assert partly == 3  # the first batch was committed before the crash
    parcels_before = db.scalar(
        select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
    )

    resumed = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=settings
    )
    assert resumed.status == "succeeded", resumed.error
    steps = {s.name: s for s in resumed.steps}
    assert [steps[n].attempts for n in cutoff_steps.STEPS] == [1, 1, 2, 1, 1]
    state = _state(db, world.window.id)
    assert len(state["parcels"]) == parcels_before == 16
    booked = [p[4] for p in state["parcels"]]
    assert None not in booked and len(set(booked)) == len(booked)
    assert state["reserved"] == 16
    assert state["events"]["parcel.reserved"] == 16


def test_a_run_holding_the_lease_blocks_another(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    _city(world, hoods=1, orders_per_hood=1)
    factory = _factory(db)
    with factory() as session:
        pipeline.ensure_run(db_session=session, window_id=world.window.id)
        session.execute(
            update(PipelineRun).values(
                status=RunStatus.RUNNING, lease_until=core_db.utcnow() + timedelta(minutes=5)
            )
        )
        session.commit()
    with pytest.raises(pipeline.PipelineBusy):
        pipeline.run_cutoff(
            session_factory=factory, window_id=world.window.id, settings=fast_settings()
        )
    with factory() as session:  # the holder crashed: its lease expired
        session.execute(
            update(PipelineRun).values(lease_until=core_db.utcnow() - timedelta(seconds=1))
        )
        session.commit()
    report = pipeline.run_cutoff(
        session_factory=factory, window_id=world.window.id, settings=fast_settings()
    )
    assert report.status == "succeeded"


def test_cutoff_refused_before_the_cutoff_time(world, db: Session) -> None:  # type: ignore[no-untyped-def]
    early = world.make.window(world.city, cutoff_in=timedelta(hours=2), slot_name="evening")
    with pytest.raises(Conflict):
        pipeline.run_cutoff(
            session_factory=_factory(db), window_id=early.id, settings=fast_settings()
        )


def test_cutoff_endpoints_and_roles(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    _city(world, hoods=2, orders_per_hood=2)
    operator = client_for(world.operator())
    url = f"/windows/{world.window.id}/cutoff"
    assert operator.get(url).status_code == 404  # never ran
    hood_resident = world.resident(world.make.neighborhood(world.city))
    assert client_for(hood_resident).post(url).status_code == 403
    assert client_for(world.driver()).post(url).status_code == 403
    stranger = world.make.operator(city=world.make.city())
    assert client_for(stranger).post(url).status_code == 404
    answer = operator.post(url, params={"time_limit_s": 1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "succeeded"
    assert [s["name"] for s in body["steps"]] == list(cutoff_steps.STEPS)
    assert all(s["duration_s"] is not None for s in body["steps"])
    status = operator.get(url)
    assert status.status_code == 200
    assert status.json()["run_id"] == body["run_id"]
    assert status.json()["unassigned"] == []
    routes = operator.get(f"/windows/{world.window.id}/routes")
    assert routes.status_code == 200 and len(routes.json()) >= 1


def test_cutoff_reports_unassigned_to_operators(world, db: Session, client_for) -> None:  # type: ignore[no-untyped-def]
    world.van()
    far, far_bank = world.hood(km_north=400)
    world.order(far, [(world.chilled, 1)], confirmed=False)
    operator = client_for(world.operator())
    body = operator.post(f"/windows/{world.window.id}/cutoff").json()
    assert body["status"] == "succeeded"
    assert [(u["bank_id"], u["reason_code"]) for u in body["unassigned"]] == [
        (far_bank.id, "time_window")
    ]
    again = operator.get(f"/windows/{world.window.id}/cutoff").json()
    assert again["unassigned"] == body["unassigned"]


def test_celery_task_runs_in_process_on_the_embedded_default(  # type: ignore[no-untyped-def]
    committed_world, committed, app_database
) -> None:
    from logistics.tasks import run_cutoff_task

    world, session = committed_world()
    _city(world, hoods=1, orders_per_hood=2)
    session.commit()
    result = run_cutoff_task.delay(world.window.id, 1.0).get()
    assert result["status"] == "succeeded"
    assert run_cutoff_task.name == "logistics.run_cutoff"
    with committed() as check:
        count = select(func.count()).select_from(Parcel).where(Parcel.window_id == world.window.id)
        assert check.scalar(count) == 4


def test_cli_cutoff_runs_and_reports(committed_world, app_database) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from logistics.cli import app as cli

    world, session = committed_world()
    _city(world, hoods=1, orders_per_hood=1)
    session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["cutoff", str(world.window.id), "--time-limit", "1"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    for step in cutoff_steps.STEPS:
        assert step in result.output
    again = runner.invoke(cli, ["cutoff", str(world.window.id), "--json"])
    assert again.exit_code == 0, again.output
    assert '"status": "succeeded"' in again.output
    missing = runner.invoke(cli, ["cutoff", "99999999"])
    assert missing.exit_code == 1


def test_two_pipelines_on_one_window_at_once(committed_world, committed) -> None:  # type: ignore[no-untyped-def]
    world, session = committed_world()
    _city(world, hoods=2, orders_per_hood=3)
    session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        barrier.wait(timeout=10)
        try:
            report = pipeline.run_cutoff(
                session_factory=committed, window_id=world.window.id, settings=fast_settings()
            )
            outcomes.append(report.status)
        except pipeline.PipelineBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert "succeeded" in outcomes and len(outcomes) == 2
    with committed() as check:
        state = _state(check, world.window.id)
        assert len(state["parcels"]) == 12
        booked = [p[4] for p in state["parcels"]]
        assert None not in booked and len(set(booked)) == 12
        assert state["events"]["parcel.reserved"] == 12
        runs = select(func.count()).select_from(PipelineRun)
        assert check.scalar(runs.where(PipelineRun.window_id == world.window.id)) == 1
