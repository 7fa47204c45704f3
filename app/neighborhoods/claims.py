"""Claiming free compartments: a snapshot of the free ones, and the atomic claim, so two
reservations never book the same compartment.

PostgreSQL: one guarded `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id`;
SQLite: `UPDATE ... WHERE status = 'free' RETURNING id`; elsewhere one guarded `UPDATE` per
compartment. The claim returns only the ids that moved: the loser plans its parcels again on
a fresh snapshot.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import Compartment, CompartmentStatus


@dataclass(frozen=True, slots=True)
class FreeCompartment:
    """A free compartment: its bank, zone and size."""

    id: int
    bank_id: int
    zone: TemperatureClass
    size: CompartmentSize


FREE_COMPARTMENT_CHUNK = 1000


def free_compartments_of_banks(
    db_session: Session, bank_ids: Collection[int]
) -> list[FreeCompartment]:
    """The free compartments of these banks now (one query per thousand banks)."""
    ids = list(bank_ids)
    found: list[FreeCompartment] = []
    for start in range(0, len(ids), FREE_COMPARTMENT_CHUNK):
        chunk = ids[start : start + FREE_COMPARTMENT_CHUNK]
        rows = db_session.execute(
            select(Compartment.id, Compartment.bank_id, Compartment.zone, Compartment.size).where(
                bulk.among(db_session, Compartment.bank_id, chunk),
                Compartment.status == CompartmentStatus.FREE,
            )
        )
        found.extend(
            FreeCompartment(c_id, bank_id, TemperatureClass(zone), CompartmentSize(size))
            for c_id, bank_id, zone, size in rows
        )
    return found


def claim_free_compartments(db_session: Session, ids: Sequence[int]) -> set[int]:
    """Atomically move these compartments from free to reserved; return the ids that moved."""
    if not ids:
        return set()
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        # One statement: lock the free ones no one else holds, move them, return their ids.
        locked = (
            select(Compartment.id)
            .where(bulk.among(db_session, Compartment.id, ids))
            .where(Compartment.status == CompartmentStatus.FREE)
            .order_by(Compartment.id)
            .with_for_update(skip_locked=True)
            .subquery("locked")
        )
        statement = compartment_lifecycle.move_statement(
            CompartmentStatus.FREE, CompartmentStatus.RESERVED, Compartment.id == locked.c.id
        ).returning(Compartment.id)
        return set(db_session.scalars(statement))
    if dialect == "sqlite":
        return compartment_lifecycle.move_compartments_returning(
            db_session=db_session,
            ids=ids,
            frm=CompartmentStatus.FREE,
            to=CompartmentStatus.RESERVED,
        )
    won: set[int] = set()
    for comp_id in ids:
        moved = compartment_lifecycle.move_compartments(
            db_session=db_session,
            ids=[comp_id],
            frm=CompartmentStatus.FREE,
            to=CompartmentStatus.RESERVED,
        )
        if moved == 1:
            won.add(comp_id)
    return won
