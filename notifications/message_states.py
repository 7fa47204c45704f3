"""The SMS message state machine: the only moves a message's status may make, in one place.

    queued      -> sending (a worker claims it) | suppressed (opted out, expired, obsolete) |
                   failed (cannot be rendered) | sent, delivered, undelivered, failed (the
                   provider's word about an earlier attempt it took after all)
    sending     -> sending (a stale claim taken over) | queued (a transient error: retry later) |
                   failed (refused for good, or out of attempts) | suppressed (blocked, and the
                   provider never had it) | sent, delivered, undelivered, failed (its answer)
    sent        -> sent (the provider's progress: accepted, queued, sending, sent) | delivered |
                   undelivered | failed
    delivered   -> delivered (read)
    failed      -> sent, delivered, undelivered, failed (the provider took an attempt we gave
                   up on, and says what became of it)
    undelivered, suppressed: final.

Every status write goes through here: `move` on a loaded row, `guarded_update` for a
compare-and-set UPDATE whose WHERE names the status it moves from. A refused move raises
`IllegalMessageMove` (a 409).
"""

from datetime import datetime

from sqlalchemy import ColumnElement, Update, or_, update

from app.core.errors import Conflict
from notifications.models import Message, MessageStatus

M = MessageStatus
PROVIDER_WORD = frozenset({M.SENT, M.DELIVERED, M.UNDELIVERED, M.FAILED})

MOVES: dict[MessageStatus, frozenset[MessageStatus]] = {
    M.QUEUED: frozenset({M.SENDING, M.SUPPRESSED, M.FAILED}) | PROVIDER_WORD,
    M.SENDING: frozenset({M.SENDING, M.QUEUED, M.FAILED, M.SUPPRESSED}) | PROVIDER_WORD,
    M.SENT: PROVIDER_WORD,
    M.DELIVERED: frozenset({M.DELIVERED}),
    M.FAILED: PROVIDER_WORD,
    M.UNDELIVERED: frozenset(),
    M.SUPPRESSED: frozenset(),
}


class IllegalMessageMove(Conflict):
    """A message asked to move where its state machine does not allow."""

    code = "illegal_message_move"


def can_move(current: MessageStatus, to: MessageStatus) -> bool:
    """Whether a message in `current` may move to `to`."""
    return to in MOVES[current]


def sources(to: MessageStatus) -> frozenset[MessageStatus]:
    """Every status a message may move to `to` from."""
    return frozenset(current for current, targets in MOVES.items() if to in targets)


def check(current: MessageStatus, to: MessageStatus, *, message_id: int | None = None) -> None:
    """Raise IllegalMessageMove, naming both states, unless `current -> to` is a legal move."""
    if not can_move(current, to):
        raise IllegalMessageMove(
            f"a message cannot go from {current.value} to {to.value}",
            field="status",
            id=message_id,
            current=current.value,
            requested=to.value,
        )


def move(message: Message, to: MessageStatus, *, now: datetime) -> Message:
    """Move a loaded message to `to` (a legal move, else IllegalMessageMove)."""
    check(MessageStatus(message.status), to, message_id=message.id)
    message.status = to
    message.status_updated_at = now
    return message


def guarded_update(frm: MessageStatus, to: MessageStatus) -> Update:
    """`UPDATE messages SET status = to WHERE status = frm` (a legal move, else
    IllegalMessageMove); the caller adds its own guards and values."""
    check(frm, to)
    return update(Message).where(Message.status == frm).values(status=to)


def legal_source(status: ColumnElement[MessageStatus], to: MessageStatus) -> ColumnElement[bool]:
    """A WHERE clause: `status` is one a message may move to `to` from (set-based moves)."""
    # OR of equalities, not IN: an expanding IN cannot run as one executemany
    return or_(*(status == current for current in sorted(sources(to))))
