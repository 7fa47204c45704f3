"""Quiet hours: a nightly local-time interval in which reminders and nudges wait.

The interval [start, end) may wrap midnight (21:00-08:00). start == end means no quiet hours.
All inputs and outputs are timezone-aware UTC; the city's zone only decides the wall clock.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    timezone: str

    def _periods_around(self, at: datetime) -> list[tuple[datetime, datetime]]:
        """Quiet periods (UTC) starting on the local days around `at`, in order."""
        zone = ZoneInfo(self.timezone)
        local_day = at.astimezone(zone).date()
        periods = []
        for offset in (-1, 0, 1):
            day = local_day + timedelta(days=offset)
            periods.append((self._local(day, self.start), self._end_after(day)))
        return periods

    def _local(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def _end_after(self, day: date) -> datetime:
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        return self._local(end_day, self.end)

    def is_quiet(self, at: datetime) -> bool:
        """Whether `at` falls in quiet hours."""
        if self.start == self.end:
            return False
        return any(start <= at < end for start, end in self._periods_around(at))

    def next_allowed(self, at: datetime) -> datetime:
        """`at` itself if outside quiet hours, else the moment the quiet period ends."""
        if self.start == self.end:
            return at
        for start, end in self._periods_around(at):
            if start <= at < end:
                return end
        return at

    def latest_allowed_before(self, at: datetime) -> datetime:
        """`at` itself if outside quiet hours, else a minute before the quiet period began."""
        if self.start == self.end:
            return at
        for start, end in self._periods_around(at):
            if start <= at < end:
                return start - timedelta(minutes=1)
        return at
