"""The compartment state machine: the only moves a locker compartment's status may make.

free -> reserved (a parcel is given it) -> occupied (the locker reports the parcel inside)
-> free (collected or taken out). A reservation that is released goes reserved -> free. An
operator may take a compartment out_of_service from any state; returning it to service puts
it back where its parcel says: free when empty, occupied when a parcel is physically inside,
reserved when a parcel still waits to be deposited there.

The locker reports facts, so a parcel reported inside a compartment the server thought free
is accepted (free -> occupied). What a locker reports never moves a compartment out of
service (operators own that state) and a report of the state it is already in changes
nothing: see `follow_locker`.
"""

from collections.abc import Collection

from sqlalchemy import ColumnElement, Update, update
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.errors import Conflict
from app.neighborhoods.models import Compartment, CompartmentStatus
from app.neighborhoods.service import CompartmentNotFound

C = CompartmentStatus

COMPARTMENT: dict[CompartmentStatus, frozenset[CompartmentStatus]] = {
    C.FREE: frozenset({C.RESERVED, C.OCCUPIED, C.OUT_OF_SERVICE}),
    C.RESERVED: frozenset({C.OCCUPIED, C.FREE, C.OUT_OF_SERVICE}),
    C.OCCUPIED: frozenset({C.FREE, C.OUT_OF_SERVICE}),
    C.OUT_OF_SERVICE: frozenset({C.FREE, C.OCCUPIED, C.RESERVED}),
}

_CHUNK = 2000


class IllegalCompartmentMove(Conflict):
    """A compartment asked to move where its state machine does not allow."""

    code = "illegal_transition"


def can_transition(current: CompartmentStatus, to: CompartmentStatus) -> bool:
    """Whether a compartment in `current` may move to `to`."""
    return isinstance(to, CompartmentStatus) and to in COMPARTMENT[CompartmentStatus(current)]


def _refuse(current: CompartmentStatus, to: CompartmentStatus, **extra: object) -> None:
    if not can_transition(current, to):
        raise IllegalCompartmentMove(
            f"a compartment cannot go from {current.value} to {to.value}",
            field="status",
            kind="compartment",
            current=current.value,
            requested=to.value,
            **extra,
        )


def transition(compartment: Compartment, to: CompartmentStatus) -> Compartment:
    """Move a compartment to `to`, or raise IllegalCompartmentMove naming both states."""
    _refuse(CompartmentStatus(compartment.status), to, id=compartment.id)
    compartment.status = to
    return compartment


def follow_locker(compartment: Compartment, to: CompartmentStatus) -> Compartment:
    """Move a compartment to what its locker reported: out of service stays put until an
    operator clears it, and the state it is already in is a no-op."""
    if compartment.status in (CompartmentStatus.OUT_OF_SERVICE, to):
        return compartment
    return transition(compartment, to)


def move_statement(
    frm: CompartmentStatus, to: CompartmentStatus, *where: ColumnElement[bool]
) -> Update:
    """The conditional UPDATE moving compartments in `frm` (and matching `where`) to `to`."""
    _refuse(frm, to)
    return (
        update(Compartment)
        .where(Compartment.status == frm, *where)
        .values(status=to)
        .execution_options(synchronize_session=False)
    )


def move_compartments(
    *,
    db_session: Session,
    ids: Collection[int],
    frm: CompartmentStatus,
    to: CompartmentStatus,
    where: Collection[ColumnElement[bool]] = (),
) -> int:
    """Bulk-move the listed compartments that are in `frm` to `to` (a legal move); how many
    moved. `where` adds conditions every moved row must also meet."""
    statement = move_statement(frm, to, *where)
    listed = list(ids)
    if not listed:
        return 0
    if bulk.on_postgresql(db_session):  # one array parameter, however many ids
        result = db_session.execute(statement.where(bulk.among(db_session, Compartment.id, listed)))
        return int(getattr(result, "rowcount", 0) or 0)
    moved = 0
    for start in range(0, len(listed), _CHUNK):
        result = db_session.execute(
            statement.where(Compartment.id.in_(listed[start : start + _CHUNK]))
        )
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


def move_compartments_returning(
    *,
    db_session: Session,
    ids: Collection[int],
    frm: CompartmentStatus,
    to: CompartmentStatus,
) -> set[int]:
    """Like `move_compartments`, but the ids that moved (needs UPDATE ... RETURNING)."""
    statement = move_statement(frm, to)
    listed = list(ids)
    won: set[int] = set()
    for start in range(0, len(listed), _CHUNK):
        result = db_session.execute(
            statement.where(Compartment.id.in_(listed[start : start + _CHUNK])).returning(
                Compartment.id
            )
        )
        won.update(result.scalars())
    return won


def move_by_id(*, db_session: Session, compartment_id: int, to: CompartmentStatus) -> None:
    """Move the compartment with this id to `to` (see `transition`); a missing one is NotFound."""
    transition(_required(db_session, compartment_id), to)


def follow_locker_by_id(*, db_session: Session, compartment_id: int, to: CompartmentStatus) -> None:
    """Move the compartment with this id to what its locker reported (see `follow_locker`)."""
    follow_locker(_required(db_session, compartment_id), to)


def _required(db_session: Session, compartment_id: int) -> Compartment:
    compartment = db_session.get(Compartment, compartment_id)
    if compartment is None:
        raise CompartmentNotFound(f"no compartment {compartment_id}", field="compartment_id")
    return compartment
