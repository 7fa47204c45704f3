"""The due-driven tick: what the time of day calls for at `now`, done once.

Safe to call any number of times and from two processes at once: window generation inserts
only what is missing (on conflict do nothing), a cut-off is claimed with the pipeline's lease,
expiry skips parcels another process has locked, settlement of undelivered parcels claims
each order with a write and keys its refunds by parcel, reminders and cold-chain checks are claimed
per row by their own modules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.cities.models import City, WindowSlot
from app.core.db import get_sessionmaker, utcnow
from app.core.settings import get_settings
from app.windows import schedule as window_schedule
from app.windows import service as window_service
from app.windows.models import DeliveryWindow
from logistics.models import PipelineRun, RunStatus

log = logging.getLogger(__name__)


class CutoffLauncher(Protocol):
    def launch(self, window_id: int) -> bool:
        """Start the window's cut-off somewhere else; False when it is already under way."""
        ...


@dataclass
class TickReport:
    """What one tick did."""

    now: datetime
    windows_created: int = 0
    cutoffs_launched: list[int] = field(default_factory=list)
    parcels_expired: int = 0
    parcels_settled: int = 0
    reminders_queued: int = 0
    excursions_checked: int = 0
    alarms_raised: int = 0
    alarms_cleared: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.windows_created
            or self.cutoffs_launched
            or self.parcels_expired
            or self.parcels_settled
            or self.reminders_queued
            or self.alarms_raised
            or self.alarms_cleared
            or self.errors
        )


def tick(
    now: datetime | None = None,
    *,
    launcher: CutoffLauncher | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> TickReport:
    """Do what is due at `now` (default: the clock's now); each part survives another's failure."""
    now = now or utcnow()
    sessions = session_factory or get_sessionmaker()
    cutoffs = launcher or default_launcher()
    report = TickReport(now=now)
    parts: list[tuple[str, Callable[[], None]]] = [
        ("windows", lambda: _generate_windows(sessions, now, report)),
        ("cutoffs", lambda: _launch_due_cutoffs(sessions, now, cutoffs, report)),
        ("expiry", lambda: _expire(sessions, now, report)),
        ("settlement", lambda: _settle_undelivered(sessions, now, report)),
        ("reminders", lambda: _remind(sessions, now, report)),
        ("cold_chain", lambda: _check_cold_chain(sessions, now, report)),
        ("alarms", lambda: _evaluate_alarms(sessions, now, report)),
        ("logins", lambda: _purge_logins(sessions, now)),
    ]
    for name, part in parts:
        try:
            part()
        except Exception as exc:
            log.exception("clockwork tick: %s failed", name)
            report.errors[name] = f"{type(exc).__name__}: {exc}"[:500]
    return report


def _generate_windows(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    days = get_settings().clockwork_days_ahead
    with sessions() as db_session:
        cities = list(
            db_session.scalars(
                select(City).where(City.id.in_(select(WindowSlot.city_id))).order_by(City.id)
            )
        )
        db_session.rollback()  # end the read before writing city by city
        for city in cities:
            today = window_schedule.local_today(window_schedule.zone(city.timezone), now)
            created = window_service.generate(
                db_session=db_session, city_id=city.id, start=today, days=days, now=now
            )
            db_session.commit()
            report.windows_created += len(created)


def due_cutoffs(*, db_session: Session, now: datetime, retry_after: timedelta) -> list[int]:
    """Windows whose cut-off has passed (pickup deadline not yet) and whose pipeline has not
    succeeded, is not running under a live lease, and was not launched or failed within
    `retry_after`; soonest cut-off first."""
    recent = now - retry_after
    query = (
        select(DeliveryWindow.id)
        .outerjoin(PipelineRun, PipelineRun.window_id == DeliveryWindow.id)
        .where(
            DeliveryWindow.cutoff_at <= now,
            DeliveryWindow.pickup_deadline > now,
            or_(
                PipelineRun.id.is_(None),
                (PipelineRun.status == RunStatus.RUNNING)
                & or_(PipelineRun.lease_until.is_(None), PipelineRun.lease_until < now),
                PipelineRun.status.in_([RunStatus.PENDING, RunStatus.FAILED])
                & (PipelineRun.updated_at <= recent),
            ),
        )
        .order_by(DeliveryWindow.cutoff_at, DeliveryWindow.id)
    )
    return list(db_session.scalars(query))


def _launch_due_cutoffs(
    sessions: sessionmaker[Session], now: datetime, launcher: CutoffLauncher, report: TickReport
) -> None:
    retry_after = timedelta(seconds=get_settings().clockwork_cutoff_retry_seconds)
    with sessions() as db_session:
        due = due_cutoffs(db_session=db_session, now=now, retry_after=retry_after)
    for window_id in due:
        if launcher.launch(window_id):
            report.cutoffs_launched.append(window_id)


def _expire(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    from lockers import expiry

    with sessions() as db_session:
        report.parcels_expired = len(expiry.expire_overdue(db_session=db_session, now=now))
        db_session.commit()


def _settle_undelivered(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    from logistics import settlement

    with sessions() as db_session:
        settled = settlement.settle_due(db_session=db_session, now=now)
        db_session.commit()
    report.parcels_settled = len(settled.parcels_settled)


def _remind(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    from notifications import reminders
    from notifications.tasks import enqueue_sends

    with sessions() as db_session:
        ids = reminders.scan(db_session=db_session, now=now)
        db_session.commit()
    enqueue_sends(ids)
    report.reminders_queued = len(ids)


def _check_cold_chain(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    from lockers import coldchain

    with sessions() as db_session:
        report.excursions_checked = coldchain.check_all(db_session=db_session, now=now)
        db_session.commit()


def _evaluate_alarms(sessions: sessionmaker[Session], now: datetime, report: TickReport) -> None:
    from ops_dashboard import alarm_rules

    with sessions() as db_session:
        evaluated = alarm_rules.evaluate(db_session=db_session, now=now)
        db_session.commit()
    report.alarms_raised, report.alarms_cleared = evaluated.raised, evaluated.cleared


def _purge_logins(sessions: sessionmaker[Session], now: datetime) -> None:
    """Forget used and expired codes, old failures, expired sign-outs and rate-limit buckets."""
    from app.auth import service as auth_service

    with sessions() as db_session:
        auth_service.purge_expired(db_session=db_session, now=now)
        db_session.commit()


# --- where a cut-off runs ------------------------------------------------------------------


class ThreadedCutoffs:
    """Embedded defaults: each cut-off in its own background thread, one per window at a time,
    so the other passes keep running while a plan is solved."""

    def __init__(self, session_factory: sessionmaker[Session] | None = None) -> None:
        self.session_factory = session_factory
        self._lock = threading.Lock()
        self._running: dict[int, threading.Thread] = {}

    def launch(self, window_id: int) -> bool:
        with self._lock:
            if window_id in self._running:
                return False
            thread = threading.Thread(
                target=self._run, args=(window_id,), name=f"cutoff-{window_id}", daemon=True
            )
            self._running[window_id] = thread
        thread.start()
        return True

    def _run(self, window_id: int) -> None:
        from logistics.pipeline import PipelineBusy, run_cutoff

        try:
            report = run_cutoff(
                session_factory=self.session_factory or get_sessionmaker(), window_id=window_id
            )
            log.info("cut-off of window %s: %s", window_id, report.status)
        except PipelineBusy:
            log.info("cut-off of window %s is running elsewhere", window_id)
        except Exception:
            log.exception("cut-off of window %s failed", window_id)
        finally:
            with self._lock:
                self._running.pop(window_id, None)

    def running(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the cut-offs running now (tests, shutdown)."""
        with self._lock:
            threads = list(self._running.values())
        for thread in threads:
            thread.join(timeout)


class QueuedCutoffs:
    """Production stack: enqueue `logistics.run_cutoff` on the routing queue. The run row is
    created (and so stamped) first, so the next ticks wait `retry_after` before enqueuing it
    again; the pipeline's lease keeps duplicates from running at once."""

    def __init__(self, session_factory: sessionmaker[Session] | None = None) -> None:
        self.session_factory = session_factory

    def launch(self, window_id: int) -> bool:
        from logistics.pipeline import note_launch
        from logistics.tasks import run_cutoff_task

        with (self.session_factory or get_sessionmaker())() as db_session:
            note_launch(db_session=db_session, window_id=window_id)
            db_session.commit()
        run_cutoff_task.apply_async((window_id,), queue="routing")
        return True


def default_launcher() -> CutoffLauncher:
    """Queued with a real Celery broker, else (tasks eager) in background threads."""
    from app.core.celery_app import celery_app

    if celery_app.conf.task_always_eager:
        return _shared_threads
    return QueuedCutoffs()


_shared_threads = ThreadedCutoffs()
