"""The compartment state machine: every move outside the table is refused, bulk moves included."""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.neighborhoods import compartments
from app.neighborhoods.models import Compartment, CompartmentStatus
from tests.factories import Factory

C = CompartmentStatus


def _pairs(allowed: bool) -> list[Any]:
    return [
        pytest.param(current, target, id=f"{current.value}->{target.value}")
        for current in C
        for target in C
        if (target in compartments.COMPARTMENT[current]) == allowed
    ]


def test_every_status_has_a_row() -> None:
    assert set(compartments.COMPARTMENT) == set(C)


@pytest.mark.parametrize(("current", "target"), _pairs(allowed=False))
def test_every_illegal_move_is_refused(current: C, target: C) -> None:
    compartment = Compartment(id=7, status=current)
    with pytest.raises(compartments.IllegalCompartmentMove) as refused:
        compartments.transition(compartment, target)
    assert refused.value.status_code == 409
    assert refused.value.code == "illegal_transition"
    assert refused.value.field == "status"
    assert refused.value.extra["current"] == current.value
    assert refused.value.extra["requested"] == target.value
    assert compartment.status == current


@pytest.mark.parametrize(("current", "target"), _pairs(allowed=False))
def test_every_illegal_bulk_move_is_refused_before_touching_the_table(
    db: Session, current: C, target: C
) -> None:
    with pytest.raises(compartments.IllegalCompartmentMove):
        compartments.move_compartments(db_session=db, ids=[1], frm=current, to=target)


@pytest.mark.parametrize(("current", "target"), _pairs(allowed=True))
def test_every_allowed_move_is_made(current: C, target: C) -> None:
    compartment = Compartment(id=7, status=current)
    compartments.transition(compartment, target)
    assert compartment.status == target


def test_the_documented_path_and_the_moves_that_stay_refused() -> None:
    path = [C.FREE, C.RESERVED, C.OCCUPIED, C.FREE]
    for current, target in zip(path, path[1:], strict=False):
        assert compartments.can_transition(current, target)
    assert compartments.can_transition(C.RESERVED, C.FREE)
    assert all(
        compartments.can_transition(s, C.OUT_OF_SERVICE) for s in C if s is not C.OUT_OF_SERVICE
    )
    assert compartments.can_transition(C.OUT_OF_SERVICE, C.OCCUPIED)
    assert not compartments.can_transition(C.OCCUPIED, C.RESERVED)


def test_a_parcel_reported_in_a_free_compartment_is_accepted() -> None:
    compartment = Compartment(id=1, status=C.FREE)
    compartments.follow_locker(compartment, C.OCCUPIED)
    assert compartment.status == C.OCCUPIED


def test_the_locker_never_moves_a_compartment_out_of_service_and_repeats_change_nothing() -> None:
    broken = Compartment(id=1, status=C.OUT_OF_SERVICE)
    compartments.follow_locker(broken, C.FREE)
    assert broken.status == C.OUT_OF_SERVICE
    occupied = Compartment(id=2, status=C.OCCUPIED)
    compartments.follow_locker(occupied, C.OCCUPIED)
    assert occupied.status == C.OCCUPIED


def test_the_locker_path_refuses_a_move_outside_the_table() -> None:
    # Before the owner module, set_compartment_status wrote any status it was given.
    occupied = Compartment(id=3, status=C.OCCUPIED)
    with pytest.raises(compartments.IllegalCompartmentMove):
        compartments.follow_locker(occupied, C.RESERVED)
    assert occupied.status == C.OCCUPIED


def _statuses(db: Session, ids: list[int]) -> dict[int, C]:
    db.expire_all()
    rows = db.execute(select(Compartment.id, Compartment.status).where(Compartment.id.in_(ids)))
    return {row.id: C(row.status) for row in rows}


def test_bulk_move_only_moves_rows_in_the_source_state(
    make: Factory, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compartments, "_CHUNK", 2)
    bank = make.locker_bank()
    starting = [C.RESERVED, C.FREE, C.RESERVED, C.OCCUPIED, C.RESERVED, C.OUT_OF_SERVICE]
    ids = [make.compartment(bank, status=status).id for status in starting]
    moved = compartments.move_compartments(db_session=db, ids=ids, frm=C.RESERVED, to=C.FREE)
    assert moved == 3
    after = _statuses(db, ids)
    assert [after[i] for i in ids] == [C.FREE, C.FREE, C.FREE, C.OCCUPIED, C.FREE, C.OUT_OF_SERVICE]
    again = compartments.move_compartments(db_session=db, ids=ids, frm=C.RESERVED, to=C.FREE)
    assert again == 0


def test_bulk_move_leaves_unlisted_rows_and_rows_failing_the_extra_condition(
    make: Factory, db: Session
) -> None:
    bank = make.locker_bank()
    listed, kept, unlisted = (make.compartment(bank, status=C.FREE) for _ in range(3))
    moved = compartments.move_compartments(
        db_session=db,
        ids=[listed.id, kept.id],
        frm=C.FREE,
        to=C.RESERVED,
        where=[Compartment.id != kept.id],
    )
    assert moved == 1
    assert _statuses(db, [listed.id, kept.id, unlisted.id]) == {
        listed.id: C.RESERVED,
        kept.id: C.FREE,
        unlisted.id: C.FREE,
    }


def test_bulk_move_returning_names_the_rows_that_moved(make: Factory, db: Session) -> None:
    if db.get_bind().dialect.name not in ("sqlite", "postgresql"):
        pytest.skip("needs UPDATE ... RETURNING")
    bank = make.locker_bank()
    free = make.compartment(bank, status=C.FREE)
    taken = make.compartment(bank, status=C.RESERVED)
    won = compartments.move_compartments_returning(
        db_session=db, ids=[free.id, taken.id], frm=C.FREE, to=C.RESERVED
    )
    assert won == {free.id}
    assert (
        compartments.move_compartments_returning(
            db_session=db, ids=[free.id], frm=C.FREE, to=C.RESERVED
        )
        == set()
    )
