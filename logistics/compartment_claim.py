"""Claiming free compartments: a snapshot of the free ones, and the atomic claim.

The claim itself is the compartments' owner's (`app.neighborhoods.claims`): one atomic
conditional statement, so two pipelines running at once can never book the same compartment;
it returns only the ids that moved, and the loser plans its parcels again on a fresh snapshot.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from app.core.enums import CompartmentSize, TemperatureClass
from app.neighborhoods import claims
from logistics import packing

SIZE_RANK = {size: rank for rank, size in enumerate(packing.SIZES)}


class Pool:
    """Free compartment ids by bank, zone and size, taken smallest size first."""

    def __init__(self, rows: Iterable[claims.FreeCompartment]) -> None:
        self.free: dict[tuple[int, TemperatureClass], dict[CompartmentSize, list[int]]] = (
            defaultdict(lambda: defaultdict(list))
        )
        for row in sorted(rows, key=lambda row: row.id, reverse=True):
            self.free[(row.bank_id, row.zone)][row.size].append(row.id)

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
    return Pool(claims.free_compartments_of_banks(db_session, list(bank_ids)))


def claim(db_session: Session, ids: Sequence[int]) -> set[int]:
    """Atomically move these compartments from free to reserved; return the ids that moved."""
    return claims.claim_free_compartments(db_session, ids)
