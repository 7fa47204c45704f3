"""The live stream's poll when the database is busy: a quiet beat, nothing lost."""

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.events.consumer import Mark
from app.web import live


def _source(kind: str) -> live.LiveSource:
    def source(_db: Session, cursor: Mark | None) -> live.Happened:
        return live.Happened(cursor=cursor, kinds=[kind])

    return source


def _busy(_db: Session, _cursor: Mark | None) -> live.Happened:
    raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))


def test_a_busy_database_skips_a_beat_and_moves_no_cursor(db: Session) -> None:
    cursors: list[Mark | None] = [None, None]
    sentinel = object()
    cursors[0] = sentinel  # type: ignore[assignment]
    frames = live._poll([_source("order.placed"), _busy], cursors)
    assert [f.split("\n")[0] for f in frames] == ["event: clock"]
    assert cursors == [sentinel, None]
    frames = live._poll([_source("order.placed"), _source("route.published")], cursors)
    assert "event: order.placed" in frames[0] and any("event: changed" in f for f in frames)
