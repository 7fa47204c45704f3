"""The lifecycle of a locker command. Nothing here commits."""

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from lockers.models import LockerCommand

FINISHED_CHANNEL = "locker_command_finished"
_FINISHED = "lockers_finished"


def notify_finished(*, db_session: Session, command: LockerCommand) -> None:
    """At commit, announce (PostgreSQL NOTIFY `<id>:<status>`) that a command finished, for
    waiters such as long-polling clients and the benchmark; one statement per transaction."""
    if db_session.get_bind().dialect.name != "postgresql":
        return
    pending: list[str] | None = db_session.info.get(_FINISHED)
    if pending is None:
        pending = db_session.info[_FINISHED] = []
        event.listen(db_session, "before_commit", _send_finished, once=True)
        event.listen(db_session, "after_rollback", _drop_finished, once=True)
    pending.append(f"{command.id}:{command.status.value}")


def _drop_finished(db_session: Session) -> None:
    db_session.info.pop(_FINISHED, None)


def _send_finished(db_session: Session) -> None:
    payloads = db_session.info.pop(_FINISHED, [])
    if payloads:
        db_session.execute(
            text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
            {"channel": FINISHED_CHANNEL, "payloads": payloads},
        )
