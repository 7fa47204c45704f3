"""Travel-time sources: where the solver's duration and distance matrices come from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np

Point = tuple[float, float]
"""A (latitude, longitude) pair in degrees."""

Matrices = tuple[list[list[float]], list[list[float]]]
"""(seconds, meters), each indexed [from][to]."""

EARTH_RADIUS_M = 6_371_008.8


class TravelTimeSource(Protocol):
    """Anything that turns points into travel-time (s) and distance (m) matrices."""

    def matrix(self, points: Sequence[Point]) -> Matrices:
        """Travel seconds and meters between every ordered pair of points."""
        ...


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in meters between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


@dataclass(frozen=True)
class GreatCircleTravel:
    """Road distance as great-circle distance times a detour factor, at a constant speed."""

    speed_kmh: float = 25.0
    detour_factor: float = 1.3

    def __post_init__(self) -> None:
        if not self.speed_kmh > 0 or not math.isfinite(self.speed_kmh):
            raise ValueError(f"speed_kmh must be a positive number, got {self.speed_kmh}")
        if not self.detour_factor >= 1 or not math.isfinite(self.detour_factor):
            raise ValueError(f"detour_factor must be >= 1, got {self.detour_factor}")

    def matrix(self, points: Sequence[Point]) -> Matrices:
        """Travel seconds and meters between every ordered pair of points."""
        if not points:
            return [], []
        lat, lon = np.radians(np.asarray(points, dtype=float)).T
        h = (
            np.sin((lat[None, :] - lat[:, None]) / 2) ** 2
            + np.cos(lat)[:, None]
            * np.cos(lat)[None, :]
            * np.sin((lon[None, :] - lon[:, None]) / 2) ** 2
        )
        meters = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, h))) * self.detour_factor
        speed_ms = self.speed_kmh / 3.6
        return (meters / speed_ms).tolist(), meters.tolist()


class OsrmError(RuntimeError):
    """OSRM answered with an error or without a full table."""


@dataclass(frozen=True)
class OsrmTravel:
    """Durations and distances from an OSRM server's table service (driving profile)."""

    base_url: str
    timeout_s: float = 30.0

    def matrix(self, points: Sequence[Point]) -> Matrices:
        """Travel seconds and meters between every ordered pair of points."""
        if not points:
            return [], []
        coordinates = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        # The query is written out: OSRM wants the comma as is, not percent-encoded.
        url = (
            f"{self.base_url.rstrip('/')}/table/v1/driving/{coordinates}"
            "?annotations=duration,distance"
        )
        try:
            response = httpx.get(url, timeout=self.timeout_s)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise OsrmError(f"OSRM table request failed: {error}") from error
        if body.get("code") != "Ok":
            raise OsrmError(f"OSRM table error: {body.get('code')}: {body.get('message', '')}")
        n = len(points)
        return _table(body, "durations", n), _table(body, "distances", n)


def _table(body: dict[str, object], key: str, n: int) -> list[list[float]]:
    """An n x n table from an OSRM answer; unreachable pairs (null) are refused."""
    rows = body.get(key)
    if not isinstance(rows, list) or len(rows) != n or any(len(row) != n for row in rows):
        raise OsrmError(f"OSRM answer has no {n}x{n} {key!r} table")
    if any(x is None for row in rows for x in row):
        raise OsrmError(f"OSRM {key!r} table has unreachable pairs (null)")
    return [[float(x) for x in row] for row in rows]
