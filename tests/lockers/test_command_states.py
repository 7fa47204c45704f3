"""The locker command state machine: every legal move is allowed, every other one refused with
a named case, and set-based moves leave commands in an illegal source untouched."""

from itertools import product

import pytest
from sqlalchemy.orm import Session

from lockers import command_queue, command_states, protocol
from lockers.command_states import IllegalCommandTransition
from lockers.models import CommandStatus, LockerCommand
from tests.lockers.conftest import World, build_world

C = CommandStatus
LEGAL = {
    (C.QUEUED, C.SENT),
    (C.QUEUED, C.ACKED),
    (C.QUEUED, C.FAILED),
    (C.QUEUED, C.EXPIRED),
    (C.SENT, C.SENT),
    (C.SENT, C.ACKED),
    (C.SENT, C.FAILED),
    (C.SENT, C.EXPIRED),
}
ILLEGAL = sorted(set(product(C, C)) - LEGAL)


@pytest.fixture
def w(db: Session) -> World:
    return build_world(db, None)  # type: ignore[arg-type]


def _command(w: World, db: Session, status: CommandStatus) -> LockerCommand:
    command = command_queue.queue_command(
        db_session=db,
        bank_id=w.bank.id,
        kind=protocol.CommandType.SET_OUT_OF_SERVICE,
        args={"compartment": "A1", "out_of_service": True},
        ttl_seconds=60,
    )
    command.status = status  # the state under test, set up directly
    db.flush()
    return command


def test_the_table_holds_exactly_the_legal_moves() -> None:
    assert {(a, b) for a, b in product(C, C) if command_states.can_transition(a, b)} == LEGAL
    assert command_states.INITIAL == C.QUEUED
    assert set(command_states.FINISHED) == {C.ACKED, C.FAILED, C.EXPIRED}
    assert all(not command_states.COMMAND[s] for s in command_states.FINISHED)


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_a_legal_move_is_made(
    w: World, db: Session, current: CommandStatus, to: CommandStatus
) -> None:
    command = _command(w, db, current)
    assert command_states.transition(command, to) is command
    assert command.status == to


@pytest.mark.parametrize(("current", "to"), ILLEGAL)
def test_an_illegal_move_is_refused_with_its_case(
    w: World, db: Session, current: CommandStatus, to: CommandStatus
) -> None:
    command = _command(w, db, current)
    with pytest.raises(IllegalCommandTransition) as refused:
        command_states.transition(command, to)
    assert command.status == current
    error = refused.value.to_dict()["detail"][0]
    assert (error["type"], error["code"]) == ("conflict", "illegal_command_transition")
    assert error["ctx"]["current"] == current.value and error["ctx"]["requested"] == to.value


@pytest.mark.parametrize(("current", "to"), ILLEGAL)
def test_a_set_based_move_skips_a_command_in_an_illegal_source(
    w: World, db: Session, current: CommandStatus, to: CommandStatus
) -> None:
    command = _command(w, db, current)
    moved = command_states.move_commands(
        db_session=db, where=[LockerCommand.id == command.id], to=to
    )
    db.refresh(command)
    assert (moved, command.status) == (0, current)


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_a_set_based_move_takes_a_command_in_a_legal_source(
    w: World, db: Session, current: CommandStatus, to: CommandStatus
) -> None:
    command = _command(w, db, current)
    moved = command_states.move_commands(
        db_session=db, where=[LockerCommand.id == command.id], to=to, attempts=7
    )
    db.refresh(command)
    assert (moved, command.status, command.attempts) == (1, to, 7)
