"""Failed logins per key (a client address, a staff username) and the growing wait they earn.

The first `login_backoff_free_failures` failures cost nothing; each further one doubles the wait
before the key may try again (from `login_backoff_base_seconds` up to `login_backoff_max_seconds`).
Failures older than `login_backoff_forget_seconds` are forgotten, and a success clears the key.
Refused tries are not failures: waiting out the Retry-After is enough.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from app.auth.errors import TooManyFailedLogins
from app.auth.models import LoginBackoff
from app.auth.ratelimit import dialect_insert
from app.core.settings import get_settings


def delay_after(failures: int) -> timedelta:
    """The wait a key has earned with `failures` recent failures."""
    settings = get_settings()
    extra = failures - settings.login_backoff_free_failures
    if extra < 0:
        return timedelta(0)
    seconds = min(
        settings.login_backoff_max_seconds,
        settings.login_backoff_base_seconds * 2 ** min(extra, 30),
    )
    return timedelta(seconds=seconds)


def recent_failures(db_session: Session, key: str, now: datetime) -> int:
    """Failures of `key` not yet forgotten."""
    row = db_session.get(LoginBackoff, key, populate_existing=True)
    if row is None or row.last_failure_at < now - _forget():
        return 0
    return row.failures


def refuse_if_waiting(
    db_session: Session, key: str, now: datetime, *, reason: str, field: str | None = None
) -> None:
    """TooManyFailedLogins with Retry-After while `key` has a wait to sit out."""
    row = db_session.get(LoginBackoff, key, populate_existing=True)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return
    retry = max(1, math.ceil((row.blocked_until - now).total_seconds()))
    raise TooManyFailedLogins(
        f"{reason}; try again in {retry} s", field=field, retry_after_seconds=retry
    )


def record_failure(db_session: Session, key: str, now: datetime) -> int:
    """Count one failure of `key` (atomically) and set its wait; the recent failures so far."""
    stale = LoginBackoff.last_failure_at < now - _forget()
    insert = dialect_insert(db_session, LoginBackoff).values(
        key=key, failures=1, last_failure_at=now, blocked_until=None
    )
    db_session.execute(
        insert.on_conflict_do_update(
            index_elements=[LoginBackoff.key],
            set_={
                "failures": case((stale, 1), else_=LoginBackoff.failures + 1),
                "last_failure_at": now,
            },
        )
    )
    failures = db_session.scalars(
        select(LoginBackoff.failures)
        .where(LoginBackoff.key == key)
        .execution_options(populate_existing=True)
    ).one()
    wait = delay_after(failures)
    db_session.execute(
        update(LoginBackoff)
        .where(LoginBackoff.key == key)
        .values(blocked_until=now + wait if wait else None)
        .execution_options(synchronize_session=False)
    )
    return failures


def clear(db_session: Session, *keys: str) -> None:
    """Forget the failures of `keys` (after a success)."""
    db_session.execute(
        delete(LoginBackoff)
        .where(LoginBackoff.key.in_(keys))
        .execution_options(synchronize_session=False)
    )


def purge(db_session: Session, now: datetime) -> int:
    """Delete forgotten keys whose wait is over (a periodic clean-up); rows deleted."""
    result = db_session.execute(
        delete(LoginBackoff).where(
            LoginBackoff.last_failure_at < now - _forget(),
            (LoginBackoff.blocked_until.is_(None)) | (LoginBackoff.blocked_until <= now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _forget() -> timedelta:
    return timedelta(seconds=get_settings().login_backoff_forget_seconds)
