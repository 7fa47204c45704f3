"""The order state machine: every legal move works, every other pair is refused."""

import itertools

import pytest

from app.orders import states
from app.orders.models import LineStatus, Order, OrderLine, OrderStatus

S = OrderStatus
# Written out from the spec, independently of states.ALLOWED.
LEGAL = {
    (S.PLACED, S.CONFIRMED),
    (S.CONFIRMED, S.PACKED),
    (S.PACKED, S.OUT_FOR_DELIVERY),
    (S.OUT_FOR_DELIVERY, S.READY_FOR_PICKUP),
    (S.READY_FOR_PICKUP, S.COLLECTED),
    (S.PLACED, S.CANCELLED),
    (S.PLACED, S.GROUP_FAILED),
    (S.READY_FOR_PICKUP, S.EXPIRED),
    (S.PACKED, S.UNDELIVERED),
    (S.OUT_FOR_DELIVERY, S.UNDELIVERED),
}
ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def _order(status: OrderStatus) -> Order:
    return Order(id=1, status=status)


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_legal_moves(current: OrderStatus, to: OrderStatus) -> None:
    order = _order(current)
    assert states.transition(order, to) is order
    assert order.status == to


@pytest.mark.parametrize(("current", "to"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_move_is_refused(current: OrderStatus, to: OrderStatus) -> None:
    order = _order(current)
    with pytest.raises(states.IllegalTransition) as info:
        states.transition(order, to)
    assert order.status == current
    assert info.value.status_code == 409
    assert info.value.field == "status"
    assert info.value.extra["current"] == current.value
    assert info.value.extra["requested"] == to.value


def test_pairs_cover_the_whole_square() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(OrderStatus) ** 2 == 100
    assert {S.COLLECTED, S.CANCELLED, S.GROUP_FAILED, S.EXPIRED, S.UNDELIVERED} == states.TERMINAL


def test_undelivered_is_reached_only_from_packed_or_out_for_delivery() -> None:
    sources = {current for current, to in LEGAL if to == S.UNDELIVERED}
    assert sources == {S.PACKED, S.OUT_FOR_DELIVERY}
    for current in set(OrderStatus) - sources:
        assert not states.can_transition(current, S.UNDELIVERED)
    assert not any(states.can_transition(S.UNDELIVERED, to) for to in OrderStatus)


LINE_LEGAL = {
    (LineStatus.PLACED, LineStatus.CONFIRMED),
    (LineStatus.PLACED, LineStatus.CANCELLED),
    (LineStatus.PLACED, LineStatus.GROUP_FAILED),
}
LINE_PAIRS = list(itertools.product(LineStatus, LineStatus))


@pytest.mark.parametrize(("current", "to"), LINE_PAIRS, ids=[f"{a}->{b}" for a, b in LINE_PAIRS])
def test_line_moves(current: LineStatus, to: LineStatus) -> None:
    line = OrderLine(id=1, status=current)
    if (current, to) in LINE_LEGAL:
        states.transition_line(line, to)
        assert line.status == to
    else:
        with pytest.raises(states.IllegalTransition):
            states.transition_line(line, to)
        assert line.status == current
