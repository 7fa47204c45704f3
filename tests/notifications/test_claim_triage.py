"""The claim decision (`notifications.claiming.triage`): a pure function of the row as read."""

from datetime import UTC, datetime, timedelta

import pytest

from notifications.claiming import MessageState, Proceed, Wait, triage
from notifications.models import MessageStatus

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
STALE = timedelta(seconds=120)


def _state(
    status: MessageStatus = MessageStatus.QUEUED,
    *,
    claimed_at: datetime | None = None,
    not_before: datetime | None = None,
    expires_at: datetime | None = None,
    verify: bool = False,
) -> MessageState:
    return MessageState(status, claimed_at, not_before, expires_at, verify)


def _triage(state: MessageState, suppression: str | None = None) -> Wait | Proceed:
    return triage(state, suppression=suppression, now=NOW, stale=STALE)


def test_a_queued_due_message_is_claimed_as_it_is() -> None:
    assert _triage(_state()) == Proceed(verify=False, blocked=None)
    assert _triage(_state(verify=True)) == Proceed(verify=True, blocked=None)


def test_a_fresh_claim_is_in_flight_until_it_is_stale() -> None:
    decision = _triage(_state(MessageStatus.SENDING, claimed_at=NOW - timedelta(seconds=30)))
    assert decision == Wait("in_flight", 91.0)  # 90 s until stale, and one more


def test_a_stale_claim_is_claimed_again_but_looked_up_first() -> None:
    stale = _state(MessageStatus.SENDING, claimed_at=NOW - STALE)
    assert _triage(stale) == Proceed(verify=True, blocked=None)


@pytest.mark.parametrize(
    "status",
    [
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.SUPPRESSED,
    ],
)
def test_a_finished_message_is_done(status: MessageStatus) -> None:
    assert _triage(_state(status)) == Wait("done")


def test_a_message_not_due_waits_for_its_time() -> None:
    later = _state(not_before=NOW + timedelta(minutes=5))
    assert _triage(later) == Wait("not_due", 300.0)
    assert _triage(_state(not_before=NOW)) == Proceed(verify=False, blocked=None)


def test_an_expired_message_is_blocked_even_for_a_recipient_who_may_be_messaged() -> None:
    assert _triage(_state(expires_at=NOW)) == Proceed(verify=False, blocked="expired")
    not_yet = _state(expires_at=NOW + timedelta(seconds=1))
    assert _triage(not_yet) == Proceed(verify=False, blocked=None)


def test_a_suppressed_recipient_blocks_the_message_and_a_stale_claim_is_still_looked_up() -> None:
    assert _triage(_state(), "opted_out") == Proceed(verify=False, blocked="opted_out")
    stale = _state(MessageStatus.SENDING, claimed_at=NOW - timedelta(hours=1))
    assert _triage(stale, "opted_out") == Proceed(verify=True, blocked="opted_out")
