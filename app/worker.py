"""The Celery worker's app: the one Celery app with every package's tasks registered on it.

Workers and beat start from here, `celery -A app.worker worker -Q notifications` (see README), so
a worker knows every task whichever queue it serves.
"""

import app.clockwork.tasks
import lockers.tasks
import logistics.tasks
import notifications.tasks
from app.core.celery_app import celery_app

TASK_MODULES = (logistics.tasks, lockers.tasks, notifications.tasks, app.clockwork.tasks)

__all__ = ["TASK_MODULES", "celery_app"]
