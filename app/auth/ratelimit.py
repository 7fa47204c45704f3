"""Request counters kept in the database, so every API process enforces the same limits.

A key (e.g. `code:phone:+8613812345678`) counts admitted requests in ten-minute buckets; the
limit applies to the buckets of the last hour, so the window slides in ten-minute steps instead
of resetting on the hour. Refused requests are not counted, so Retry-After tells the truth.
"""

import ipaddress
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.auth.errors import RateLimitExceeded
from app.auth.models import RateLimitCounter
from app.core.db import utcnow

WINDOW = timedelta(hours=1)
BUCKETS = 6


def dialect_insert(db_session: Session, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on the session's database (PostgreSQL or SQLite)."""
    name = db_session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for database dialect {name!r}")


def client_key(host: str | None) -> str:
    """The address a client is counted under: IPv4 as is, IPv6 by its /64 network."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _bucket_start(now: datetime, step: timedelta) -> datetime:
    seconds = int(now.timestamp())
    size = int(step.total_seconds())
    return datetime.fromtimestamp(seconds - seconds % size, UTC)


def hit(
    *,
    db_session: Session,
    key: str,
    limit: int,
    reason: str,
    field: str | None = None,
    window: timedelta = WINDOW,
    now: datetime | None = None,
) -> int:
    """Count one request under `key`; TooManyRequests (with Retry-After) once over `limit`.

    A limit of 0 or less means no limit. Returns the number of requests counted in the window.
    """
    if limit <= 0:
        return 0
    now = now or utcnow()
    step = window / BUCKETS
    bucket = _bucket_start(now, step)
    oldest = bucket - step * (BUCKETS - 1)
    db_session.execute(
        delete(RateLimitCounter).where(
            RateLimitCounter.key == key, RateLimitCounter.bucket_start < oldest
        )
    )
    insert = dialect_insert(db_session, RateLimitCounter).values(
        key=key, bucket_start=bucket, hits=1
    )
    db_session.execute(
        insert.on_conflict_do_update(
            index_elements=[RateLimitCounter.key, RateLimitCounter.bucket_start],
            set_={"hits": RateLimitCounter.hits + 1},
        )
    )
    rows: Sequence[tuple[datetime, int]] = (
        db_session.execute(
            select(RateLimitCounter.bucket_start, RateLimitCounter.hits)
            .where(RateLimitCounter.key == key, RateLimitCounter.bucket_start >= oldest)
            .order_by(RateLimitCounter.bucket_start)
            .execution_options(populate_existing=True)
        )
        .tuples()
        .all()
    )
    total = sum(hits for _, hits in rows)
    if total <= limit:
        return total
    db_session.execute(
        update(RateLimitCounter)
        .where(RateLimitCounter.key == key, RateLimitCounter.bucket_start == bucket)
        .values(hits=RateLimitCounter.hits - 1)
    )
    retry_after = _retry_after(rows, admitted=total - 1, limit=limit, step=step, now=now)
    raise RateLimitExceeded(
        f"{reason}; try again in {retry_after} s",
        field=field,
        retry_after_seconds=retry_after,
        limit=limit,
        window_seconds=int(window.total_seconds()),
    )


def _retry_after(
    rows: Sequence[tuple[datetime, int]],
    *,
    admitted: int,
    limit: int,
    step: timedelta,
    now: datetime,
) -> int:
    """Seconds until enough of the oldest buckets leave the window to admit one more request."""
    remaining = admitted
    for start, hits in rows:
        remaining -= hits
        if remaining < limit:
            leaves_at = start + step * BUCKETS
            return max(1, math.ceil((leaves_at - now).total_seconds()))
    return max(1, math.ceil(step.total_seconds()))


def purge(*, db_session: Session, window: timedelta = WINDOW, now: datetime | None = None) -> int:
    """Delete every bucket older than the window (a periodic clean-up); returns rows deleted."""
    now = now or utcnow()
    result = db_session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.bucket_start < now - window)
    )
    return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
