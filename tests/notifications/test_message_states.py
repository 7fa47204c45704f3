"""The SMS message state machine: every move off its table is refused, by name; the legal ones
apply; the provider's word that its table refuses is ignored, not applied."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from notifications import message_states, tracking
from notifications.message_states import MOVES, IllegalMessageMove
from notifications.models import Message, MessageStatus
from tests.notifications.conftest import World, dispatched, reloaded

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
ILLEGAL = [
    (current, to) for current in MessageStatus for to in MessageStatus if to not in MOVES[current]
]
LEGAL = [(current, to) for current in MessageStatus for to in sorted(MOVES[current])]


def test_the_table_names_every_status_and_only_suppressed_and_undelivered_are_dead_ends() -> None:
    assert set(MOVES) == set(MessageStatus)
    assert {s for s, targets in MOVES.items() if not targets} == {
        MessageStatus.UNDELIVERED,
        MessageStatus.SUPPRESSED,
    }


@pytest.mark.parametrize(("current", "to"), ILLEGAL, ids=[f"{c}->{t}" for c, t in ILLEGAL])
def test_every_illegal_move_is_refused_by_name(current: MessageStatus, to: MessageStatus) -> None:
    message = Message(status=current)
    with pytest.raises(IllegalMessageMove) as refused:
        message_states.move(message, to, now=NOW)
    assert refused.value.status_code == 409 and refused.value.case == "illegal_message_move"
    assert refused.value.extra == {"id": None, "current": current.value, "requested": to.value}
    assert message.status is current  # untouched
    with pytest.raises(IllegalMessageMove):
        message_states.guarded_update(current, to)


@pytest.mark.parametrize(("current", "to"), LEGAL, ids=[f"{c}->{t}" for c, t in LEGAL])
def test_every_legal_move_applies(current: MessageStatus, to: MessageStatus) -> None:
    message = Message(status=current)
    message_states.move(message, to, now=NOW)
    assert (message.status, message.status_updated_at) == (to, NOW)
    assert current in message_states.sources(to)


def test_a_set_based_move_touches_only_rows_in_a_legal_source(db: Session, world: World) -> None:
    resident = world.resident()
    world.order_event(resident)
    world.order_event(resident)
    queued, suppressed = dispatched(db)
    db.get(Message, suppressed).status = MessageStatus.SUPPRESSED  # type: ignore[union-attr]
    db.flush()
    statement = (
        message_states.guarded_update(MessageStatus.QUEUED, MessageStatus.SENDING)
        .where(Message.id.in_([queued, suppressed]))
        .execution_options(synchronize_session=False)
    )
    assert db.execute(statement).rowcount == 1  # type: ignore[attr-defined]
    assert reloaded(db, queued).status is MessageStatus.SENDING
    assert reloaded(db, suppressed).status is MessageStatus.SUPPRESSED


def test_a_read_receipt_after_undelivered_is_ignored() -> None:
    message = Message(
        status=MessageStatus.UNDELIVERED, provider_sid="SM1", provider_status="undelivered"
    )
    assert not tracking.apply(message, sid="SM1", status="read", now=NOW, source="callback")
    assert message.status is MessageStatus.UNDELIVERED
    delivered = Message(
        status=MessageStatus.DELIVERED, provider_sid="SM2", provider_status="delivered"
    )
    assert tracking.apply(delivered, sid="SM2", status="read", now=NOW, source="callback")
    assert (delivered.status, delivered.provider_status) == (MessageStatus.DELIVERED, "read")
