"""Provider statuses applied to a message: idempotent, in any order, never backwards."""

from datetime import datetime

from notifications import message_states
from notifications.models import Message, MessageStatus

# Twilio's outbound statuses by progress; a status applies only if it ranks above the current.
PROVIDER_RANK = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
OUR_STATUS = {
    "accepted": MessageStatus.SENT,
    "scheduled": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
FINAL_PROVIDER_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})


def apply(
    message: Message,
    *,
    sid: str,
    status: str,
    now: datetime,
    source: str,
    error_code: int | None = None,
    error_message: str | None = None,
) -> bool:
    """Record what the provider says about the message; return whether anything changed.

    The first word from the provider (the send answer, a callback, a lookup) also records its
    message SID. A status that does not rank above the current one is ignored, so a late `sent`
    never overwrites `delivered`, and repeating a callback changes nothing.
    """
    status = status.lower()
    if status not in PROVIDER_RANK or message.status is MessageStatus.SUPPRESSED:
        return False
    changed = False
    if message.provider_sid is None:
        message.provider_sid, message.sid_source = sid, source
        message.sent_at = message.sent_at or now
        changed = True
    elif message.provider_sid != sid:
        return False
    first_word = message.status in (MessageStatus.QUEUED, MessageStatus.SENDING)
    current = PROVIDER_RANK.get(message.provider_status or "", 0)
    if not first_word and PROVIDER_RANK[status] <= current:
        return changed
    if not message_states.can_move(message.status, OUR_STATUS[status]):
        return changed  # e.g. a read receipt after `undelivered`: that message is settled
    message.provider_status = status
    message_states.move(message, OUR_STATUS[status], now=now)
    message.verify_before_send = False
    if status in FINAL_PROVIDER_STATUSES:
        message.final_at = message.final_at or now
        if error_code is not None:
            message.error_code = error_code
        if error_message:
            message.error_message = error_message[:255]
    return True
