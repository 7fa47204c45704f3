"""Local wall-clock time to UTC for delivery windows: the rules for clock changes live here.

Policy (documented in one place, tested in tests/windows/test_window_dst.py):

- A window's times are planned in the city's local **wall-clock** time. The cut-off is
  `cutoff_hours_before` hours of wall-clock time before ready-by, and the pickup deadline
  `pickup_hours_after` hours of wall-clock time after it. So a 11:00 window with a 5-hour
  cut-off closes at 06:00 local every day, also on the days the clocks change; on those days
  the *elapsed* time between cut-off and ready-by is one hour shorter (spring forward) or longer
  (fall back) when the change falls between them. Residents see the same times every day.
- A local time that does not exist (skipped by a spring-forward change, e.g. 02:30 in Berlin on
  2026-03-29) resolves to the instant the clock jumps past it (there: 03:00 CEST, 01:00 UTC):
  the earliest instant whose wall-clock time is at or after the one asked for.
- A local time that happens twice (fall back, e.g. 02:30 in Berlin on 2026-10-25) resolves to
  its first occurrence (`fold=0`, there: 02:30 CEST, 00:30 UTC).
- Should those rules ever make a cut-off not precede its ready-by (or the deadline not follow
  it), which can only happen when a clock change falls inside the gap, the elapsed-hours value is
  used instead for that time, so every window keeps cutoff < ready_by < pickup_deadline.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WindowTimes:
    """A window's three instants, timezone-aware UTC."""

    cutoff_at: datetime
    ready_by: datetime
    pickup_deadline: datetime


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (ZoneInfo caches instances)."""
    return ZoneInfo(name)


def wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of an aware instant in `tz`."""
    return instant.astimezone(UTC).astimezone(tz).replace(tzinfo=None)


def exists(local: datetime, tz: ZoneInfo) -> bool:
    """Whether the naive wall-clock time `local` happens at all in `tz`."""
    return wall_clock(local.replace(tzinfo=tz, fold=0).astimezone(UTC), tz) == local


def local_to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall-clock time, by the module's gap and fold rules."""
    if local.tzinfo is not None:
        raise ValueError("local_to_utc takes a naive wall-clock time")
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall_clock(first, tz) == local:
        return first  # exists; fold=0 is the first occurrence when the time happens twice
    # Skipped by a clock change. fold=1 reads it with the offset after the change: an instant
    # before the jump; fold=0 with the offset before it: an instant after the jump. Bisect to
    # the earliest instant whose wall-clock reading is at or after `local`.
    low = int(local.replace(tzinfo=tz, fold=1).timestamp())
    high = math.ceil(first.timestamp())
    if low > high:
        low, high = high, low
    while high - low > 1:
        middle = (low + high) // 2
        if wall_clock(datetime.fromtimestamp(middle, UTC), tz) >= local:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def window_times(
    *,
    local_date: date,
    ready_by_local: time,
    cutoff_hours_before: int,
    pickup_hours_after: int,
    tz: ZoneInfo,
) -> WindowTimes:
    """Cut-off, ready-by and pickup deadline in UTC for one slot on one local date."""
    ready_local = datetime.combine(local_date, ready_by_local)
    ready_by = local_to_utc(ready_local, tz)
    cutoff_at = local_to_utc(ready_local - timedelta(hours=cutoff_hours_before), tz)
    if cutoff_at >= ready_by:
        cutoff_at = ready_by - timedelta(hours=cutoff_hours_before)
    deadline = local_to_utc(ready_local + timedelta(hours=pickup_hours_after), tz)
    if deadline <= ready_by:
        deadline = ready_by + timedelta(hours=pickup_hours_after)
    return WindowTimes(cutoff_at=cutoff_at, ready_by=ready_by, pickup_deadline=deadline)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in `tz` (at `now`, default the current time)."""
    return (now or datetime.now(UTC)).astimezone(tz).date()
