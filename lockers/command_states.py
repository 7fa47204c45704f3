"""The locker command state machine: the only moves a command's status may make, in one place.

queued -> sent (published; sent again on each re-send) -> acked | failed (the locker said so)
| expired (no ack in time). A command still queued may finish too: an ack can arrive for a
publish whose claim was rolled back, a pending resync is superseded (failed), and one never
published expires. Finished commands never move again (a late ack is recorded, not applied).

Every status write goes through here: `transition` for a loaded command, `move_commands` for
a set-based UPDATE (which names the legal sources in its WHERE). When a command finishes,
`notify_finished` announces it at commit. Nothing here commits.
"""

from typing import Any

from sqlalchemy import ColumnElement, event, text, update
from sqlalchemy.orm import Session

from app.core.errors import Conflict
from lockers.models import CommandStatus, LockerCommand

C = CommandStatus

COMMAND: dict[CommandStatus, frozenset[CommandStatus]] = {
    C.QUEUED: frozenset({C.SENT, C.ACKED, C.FAILED, C.EXPIRED}),
    C.SENT: frozenset({C.SENT, C.ACKED, C.FAILED, C.EXPIRED}),
    C.ACKED: frozenset(),
    C.FAILED: frozenset(),
    C.EXPIRED: frozenset(),
}

INITIAL = C.QUEUED
PENDING = (C.QUEUED, C.SENT)
FINISHED = (C.ACKED, C.FAILED, C.EXPIRED)

FINISHED_CHANNEL = "locker_command_finished"
_FINISHED = "lockers_finished"


class IllegalCommandTransition(Conflict):
    """A locker command asked to move where its state machine does not allow."""

    case = "illegal_command_transition"


def can_transition(current: CommandStatus, to: CommandStatus) -> bool:
    """Whether a command in `current` may move to `to`."""
    return to in COMMAND[current]


def legal_sources(to: CommandStatus) -> tuple[CommandStatus, ...]:
    """The statuses a command may move to `to` from, in declaration order."""
    return tuple(status for status, targets in COMMAND.items() if to in targets)


def transition(command: LockerCommand, to: CommandStatus) -> LockerCommand:
    """Move a loaded command to `to`, or raise IllegalCommandTransition naming both states."""
    current = CommandStatus(command.status)
    if not can_transition(current, to):
        raise IllegalCommandTransition(
            f"a locker command cannot go from {current.value} to {to.value}",
            field="status",
            kind="locker command",
            id=command.id,
            current=current.value,
            requested=to.value,
        )
    command.status = to
    return command


def move_commands(
    *,
    db_session: Session,
    where: list[ColumnElement[bool]],
    to: CommandStatus,
    **values: Any,
) -> int:
    """Set-based move: the commands matching `where` that are in a legal source of `to` go to
    `to` (with `values`); how many moved. The session's loaded commands are not refreshed."""
    moved = db_session.execute(
        update(LockerCommand)
        .where(*where, LockerCommand.status.in_(legal_sources(to)))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return int(moved.rowcount)  # type: ignore[attr-defined]


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
