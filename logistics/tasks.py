"""Celery tasks of the routing queue (names start with "logistics.")."""

from typing import Any

from app.core.celery_app import celery_app
from app.core.db import get_sessionmaker
from logistics.pipeline import PipelineBusy, run_cutoff


@celery_app.task(  # type: ignore[untyped-decorator]
    name="logistics.run_cutoff",
    bind=True,
    max_retries=3,
    default_retry_delay=30,
    acks_late=True,
)
def run_cutoff_task(self: Any, window_id: int, time_limit_s: float | None = None) -> dict[str, Any]:
    """Run or resume a window's cut-off; a failed run is retried and resumes where it failed."""
    try:
        report = run_cutoff(
            session_factory=get_sessionmaker(), window_id=window_id, time_limit_s=time_limit_s
        )
    except PipelineBusy:
        return {"window_id": window_id, "status": "running elsewhere"}
    if report.status == "failed" and not self.request.is_eager:
        raise self.retry(exc=RuntimeError(report.error or "cut-off failed"))
    return report.as_dict()
