"""The locker benchmark's measurements: when each command's final state was committed (LISTEN),
the server-side split of a command's time, and percentile summaries in milliseconds."""

import statistics
import threading
import time
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class Finished:
    """LISTEN locker_command_finished: when each command's final state was committed."""

    def __init__(self, db_url: str) -> None:
        self.times: dict[str, tuple[float, str]] = {}
        self._stop = threading.Event()
        dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("LISTEN locker_command_finished")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for note in self._conn.notifies(timeout=0.5):
                command_id, status = note.payload.rsplit(":", 1)
                self.times.setdefault(command_id, (time.perf_counter(), status))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 2),
        "p95": round(pct(values, 95), 2),
        "p99": round(pct(values, 99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def server_side(sessions: sessionmaker[Session], ids: list[str]) -> dict[str, Any]:
    from lockers.models import LockerCommand

    with sessions() as db:
        rows = list(db.scalars(select(LockerCommand).where(LockerCommand.id.in_(ids))))
    queued = [
        (r.first_sent_at - r.created_at).total_seconds() * 1000 for r in rows if r.first_sent_at
    ]
    locker = [
        (r.finished_at - r.first_sent_at).total_seconds() * 1000
        for r in rows
        if r.finished_at and r.first_sent_at
    ]
    attempts = [r.attempts for r in rows]
    return {
        "queued_to_sent_ms": summary_ms(queued),
        "sent_to_ack_received_ms": summary_ms(locker),
        "max_attempts": max(attempts),
    }
