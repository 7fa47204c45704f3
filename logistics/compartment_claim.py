"""Claiming free compartments: a snapshot of the free ones, and the atomic claim.

A compartment is claimed with one atomic conditional statement (PostgreSQL: `SELECT ... FOR
UPDATE SKIP LOCKED` then `UPDATE`; SQLite: `UPDATE ... WHERE status = 'free' RETURNING id`), so
two pipelines running at once can never book the same compartment: the claim returns only the
ids that moved, and the loser plans its parcels again on a fresh snapshot.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import bulk
from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import compartments as compartment_lifecycle
from app.neighborhoods.models import Compartment, CompartmentStatus
from logistics import packing

SIZE_RANK = {size: rank for rank, size in enumerate(packing.SIZES)}
SNAPSHOT_CHUNK = 1000


class Pool:
    """Free compartment ids by bank, zone and size, taken smallest size first."""

    def __init__(self, rows: Iterable[tuple[int, int, str, str]]) -> None:
        self.free: dict[tuple[int, TemperatureClass], dict[CompartmentSize, list[int]]] = (
            defaultdict(lambda: defaultdict(list))
        )
        for comp_id, bank_id, zone, size in sorted(rows, reverse=True):
            self.free[(bank_id, TemperatureClass(zone))][CompartmentSize(size)].append(comp_id)

    def take(self, bank_id: int, zone: TemperatureClass, size: CompartmentSize) -> int | None:
        """A free compartment id of this bank and zone at least `size`, removed from the pool."""
        by_size = self.free.get((bank_id, zone))
        if not by_size:
            return None
        for candidate in packing.SIZES[SIZE_RANK[size] :]:
            ids = by_size.get(candidate)
            if ids:
                return ids.pop()
        return None


def snapshot(db_session: Session, bank_ids: Iterable[int]) -> Pool:
    """The free compartments of these banks now."""
    ids = list(bank_ids)
    rows: list[tuple[int, int, str, str]] = []
    for start in range(0, len(ids), SNAPSHOT_CHUNK):
        rows.extend(
            (row[0], row[1], row[2], row[3])
            for row in db_session.execute(
                select(
                    Compartment.id, Compartment.bank_id, Compartment.zone, Compartment.size
                ).where(
                    bulk.among(
                        db_session, Compartment.bank_id, ids[start : start + SNAPSHOT_CHUNK]
                    ),
                    Compartment.status == CompartmentStatus.FREE,
                )
            )
        )
    return Pool(rows)


def claim(db_session: Session, ids: Sequence[int]) -> set[int]:
    """Atomically move these compartments from free to reserved; return the ids that moved."""
    if not ids:
        return set()
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        locked = list(
            db_session.scalars(
                select(Compartment.id)
                .where(bulk.among(db_session, Compartment.id, ids))
                .where(Compartment.status == CompartmentStatus.FREE)
                .order_by(Compartment.id)
                .with_for_update(skip_locked=True)
            )
        )
        if locked:
            compartment_lifecycle.move_compartments(
                db_session=db_session,
                ids=locked,
                frm=CompartmentStatus.FREE,
                to=CompartmentStatus.RESERVED,
            )
        return set(locked)
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
