"""The public neighborhood lookup a new resident signs up with: by name, or nearest first.

It reveals only what a signpost would (id, name, address, distance), never residents or counts.
"""

from dataclasses import dataclass
from math import asin, cos, radians, sin, sqrt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.neighborhoods.models import Neighborhood

EARTH_RADIUS_KM = 6371.0
MAX_PAGE = 50


@dataclass(frozen=True)
class NeighborhoodHit:
    """One neighborhood as a stranger may see it."""

    id: int
    name: str
    address: str
    distance_km: float | None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    h = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(sqrt(h))


def lookup(
    *,
    db_session: Session,
    q: str = "",
    lat: float | None = None,
    lon: float | None = None,
    limit: int = 10,
    offset: int = 0,
) -> tuple[list[NeighborhoodHit], int]:
    """Active neighborhoods whose name or address holds `q`: nearest first when a position is
    given, else by name; one page of them and how many matched."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    query = select(
        Neighborhood.id, Neighborhood.name, Neighborhood.address, Neighborhood.lat, Neighborhood.lon
    ).where(Neighborhood.active.is_(True))
    text = q.strip()
    if text:
        pattern = f"%{text.lower()}%"
        query = query.where(
            func.lower(Neighborhood.name).like(pattern)
            | func.lower(Neighborhood.address).like(pattern)
        )
    if lat is None or lon is None:
        total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = db_session.execute(
            query.order_by(Neighborhood.name, Neighborhood.id).limit(limit).offset(offset)
        )
        return [NeighborhoodHit(r.id, r.name, r.address, None) for r in rows], total
    hits = sorted(
        (
            NeighborhoodHit(r.id, r.name, r.address, round(distance_km(lat, lon, r.lat, r.lon), 1))
            for r in db_session.execute(query)
        ),
        key=lambda hit: (hit.distance_km, hit.name),
    )
    return hits[offset : offset + limit], len(hits)
