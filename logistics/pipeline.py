"""The cut-off pipeline of one window: close, pack, reserve, route, publish.

One PipelineRun row per window records each step's status, timing and counts. A run claims the
window with a lease (an atomic conditional UPDATE), so two workers never run the same window at
once; a crashed run's lease expires. Re-running skips the steps already done and each step only
does what is left (orders not packed yet, parcels without a compartment, a window without
routes, events not emitted yet), so nothing is ever duplicated. The steps themselves are
`logistics.cutoff_steps`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.core.errors import Conflict
from app.windows import queries as window_queries
from logistics.cutoff_steps import STEP_FUNCTIONS, STEPS, StepContext, StepEvent
from logistics.errors import WindowNotFound
from logistics.models import (
    PipelineRun,
    PipelineStep,
    RunStatus,
    StepStatus,
    UnassignedStop,
)
from logistics.settings import LogisticsSettings, get_logistics_settings


class PipelineBusy(Conflict):
    """Another run holds the window's cut-off."""

    code = "pipeline_running"


class CutoffNotPassed(Conflict):
    """The window's cut-off is still ahead: its cut-off cannot run yet."""

    case = "cutoff_not_passed"


@dataclass(frozen=True)
class StepReport:
    name: str
    status: str
    attempts: int
    duration_s: float | None
    started_at: datetime | None
    finished_at: datetime | None
    detail: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class UnassignedReport:
    bank_id: int
    reason_code: str
    reason: str
    parcel_count: int
    plan_version: int


@dataclass
class PipelineReport:
    """A run as stored: status, per-step timing and counts, and the unassigned stops."""

    run_id: int
    window_id: int
    status: str
    attempts: int
    plan_version: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    steps: list[StepReport] = field(default_factory=list)
    unassigned: list[UnassignedReport] = field(default_factory=list)
    wall_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (datetimes as ISO strings)."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        result: dict[str, Any] = plain(asdict(self))
        return result


def run_cutoff(
    *,
    session_factory: sessionmaker[Session],
    window_id: int,
    time_limit_s: float | None = None,
    now: datetime | None = None,
    settings: LogisticsSettings | None = None,
    on_event: StepEvent | None = None,
) -> PipelineReport:
    """Run (or resume) the window's cut-off; the report says which steps ran and how long."""
    settings = settings or get_logistics_settings()
    started = time.perf_counter()
    ctx = StepContext(window_id, now, time_limit_s, settings, on_event)
    run_id = _claim(session_factory, window_id, settings, now)
    failed: str | None = None
    for name in STEPS:
        if not _run_step(session_factory, run_id, name, ctx):
            failed = name
            break
    with session_factory() as db_session:
        run = db_session.get(PipelineRun, run_id)
        assert run is not None
        run.status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
        run.finished_at = utcnow()
        run.lease_until = None
        db_session.commit()
        report = get_report(db_session=db_session, window_id=window_id)
    assert report is not None
    report.wall_s = round(time.perf_counter() - started, 3)
    return report


def _claim(
    session_factory: sessionmaker[Session],
    window_id: int,
    settings: LogisticsSettings,
    at: datetime | None,
) -> int:
    """Create the window's run (once) and take its lease, or raise PipelineBusy."""
    with session_factory() as db_session:
        cutoff_at = window_queries.window_cutoff_at(db_session=db_session, window_id=window_id)
        if cutoff_at is None:
            raise WindowNotFound(f"delivery window {window_id} does not exist", field="window_id")
        if cutoff_at > (at or utcnow()):
            raise CutoffNotPassed(
                "the window's cut-off has not passed yet",
                field="window_id",
                cutoff_at=cutoff_at.isoformat(),
            )
        run_id = ensure_run(db_session=db_session, window_id=window_id).id
        db_session.commit()
        now = utcnow()
        claimed = db_session.execute(
            update(PipelineRun)
            .where(
                PipelineRun.id == run_id,
                or_(
                    PipelineRun.status != RunStatus.RUNNING,
                    PipelineRun.lease_until.is_(None),
                    PipelineRun.lease_until < now,
                ),
            )
            .values(
                status=RunStatus.RUNNING,
                lease_until=now + timedelta(seconds=settings.lease_seconds),
                attempts=PipelineRun.attempts + 1,
                started_at=func.coalesce(PipelineRun.started_at, now),
                finished_at=None,
                error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        db_session.commit()
        if getattr(claimed, "rowcount", 0) != 1:
            raise PipelineBusy("the cut-off of this window is already running", field="window_id")
        return run_id


def note_launch(*, db_session: Session, window_id: int) -> PipelineRun:
    """The window's run, marked as just launched (the caller commits, then queues the task)."""
    run = ensure_run(db_session=db_session, window_id=window_id)
    run.updated_at = utcnow()
    return run


def ensure_run(*, db_session: Session, window_id: int) -> PipelineRun:
    """The window's run with one row per step, created on first use (the caller commits)."""
    run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
    if run is None:
        try:
            with db_session.begin_nested():
                run = PipelineRun(window_id=window_id)
                run.steps = [
                    PipelineStep(name=n, position=i, detail={}) for i, n in enumerate(STEPS)
                ]
                db_session.add(run)
        except IntegrityError:
            run = db_session.scalar(select(PipelineRun).where(PipelineRun.window_id == window_id))
            assert run is not None
    existing = set(
        db_session.scalars(select(PipelineStep.name).where(PipelineStep.run_id == run.id))
    )
    for i, name in enumerate(STEPS):
        if name not in existing:
            db_session.add(PipelineStep(run_id=run.id, name=name, position=i, detail={}))
    db_session.flush()
    return run


def _run_step(
    session_factory: sessionmaker[Session], run_id: int, name: str, ctx: StepContext
) -> bool:
    """Run one step unless done; record status, timing and counts. False when it failed."""
    emit = ctx.on_event
    with session_factory() as db_session:
        step = _step(db_session, run_id, name)
        if step.status == StepStatus.DONE:
            if emit:
                emit(name, "skipped", 1, 1)
            return True
        step.status = StepStatus.RUNNING
        step.attempts += 1
        step.started_at = utcnow()
        step.error = None
        db_session.commit()
        if emit:
            emit(name, "start", 0, 0)
        clock = time.perf_counter()
        try:
            detail = STEP_FUNCTIONS[name](db_session, ctx)
        except Exception as exc:
            db_session.rollback()
            step = _step(db_session, run_id, name)
            step.status = StepStatus.FAILED
            step.finished_at = utcnow()
            step.duration_ms = int((time.perf_counter() - clock) * 1000)
            step.error = f"{type(exc).__name__}: {exc}"[:2000]
            run = db_session.get(PipelineRun, run_id)
            assert run is not None
            run.error = f"step {name} failed: {step.error}"[:2000]
            db_session.commit()
            if emit:
                emit(name, "failed", 0, 0)
            return False
        step = _step(db_session, run_id, name)
        step.status = StepStatus.DONE
        step.finished_at = utcnow()
        step.duration_ms = int((time.perf_counter() - clock) * 1000)
        step.detail = detail
        db_session.commit()
        if emit:
            emit(name, "done", 1, 1)
        return True


def _step(db_session: Session, run_id: int, name: str) -> PipelineStep:
    step = db_session.scalar(
        select(PipelineStep)
        .where(PipelineStep.run_id == run_id, PipelineStep.name == name)
        .execution_options(populate_existing=True)
    )
    assert step is not None
    return step


def get_report(*, db_session: Session, window_id: int) -> PipelineReport | None:
    """The window's run as stored, or None when the cut-off never ran."""
    run = db_session.scalar(
        select(PipelineRun)
        .where(PipelineRun.window_id == window_id)
        .execution_options(populate_existing=True)
    )
    if run is None:
        return None
    steps = list(
        db_session.scalars(
            select(PipelineStep)
            .where(PipelineStep.run_id == run.id)
            .order_by(PipelineStep.position)
            .execution_options(populate_existing=True)
        )
    )
    unassigned = db_session.scalars(
        select(UnassignedStop)
        .where(UnassignedStop.window_id == window_id, UnassignedStop.resolved_at.is_(None))
        .order_by(UnassignedStop.id)
    )
    return PipelineReport(
        run_id=run.id,
        window_id=window_id,
        status=RunStatus(run.status).value,
        attempts=run.attempts,
        plan_version=run.plan_version,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
        steps=[
            StepReport(
                name=s.name,
                status=StepStatus(s.status).value,
                attempts=s.attempts,
                duration_s=None if s.duration_ms is None else s.duration_ms / 1000,
                started_at=s.started_at,
                finished_at=s.finished_at,
                detail=dict(s.detail or {}),
                error=s.error,
            )
            for s in steps
        ],
        unassigned=[
            UnassignedReport(u.bank_id, u.reason_code, u.reason, u.parcel_count, u.plan_version)
            for u in unassigned
        ],
    )
