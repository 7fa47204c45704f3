"""The city as inline SVG without a tile server: lat/lon projected onto a viewBox.

An equirectangular projection scaled by the cosine of the city's latitude is exact enough for
one city; the page draws neighborhoods and banks as dots, depots as squares, and each van's
route as a polyline in its own colour: the legs driven solid, the legs ahead dashed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ops_dashboard.routes_map_queries import Place, RoutesMap

WIDTH = 1000.0
MARGIN = 30.0
# Twelve colours told apart on a bright screen and by most colour-blind eyes.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#393b79",
    "#637939",
    "#843c39",
)


@dataclass(frozen=True)
class Point:
    """A projected point."""

    x: float
    y: float


@dataclass
class RouteDrawing:
    """One route's lines and markers on the map."""

    route_id: int
    van: str
    colour: str
    driven: str  # SVG points of the legs done (solid)
    ahead: str  # SVG points of the legs still to drive (dashed)
    stops: list[tuple[Point, int, bool]] = field(default_factory=list)  # where, sequence, done
    van_at: Point | None = None
    stale: bool = False


@dataclass
class MapDrawing:
    """Everything the SVG template needs, in viewBox units."""

    height: float
    neighborhoods: list[Point]
    banks: list[tuple[Point, bool]]
    depots: list[tuple[Point, str]]
    routes: list[RouteDrawing]
    unassigned: list[Point]


class Projection:
    """lat/lon -> viewBox x/y over a bounding box of points."""

    def __init__(self, points: list[tuple[float, float]]) -> None:
        lats = [p[0] for p in points] or [0.0]
        lons = [p[1] for p in points] or [0.0]
        self.lat_max, self.lon_min = max(lats), min(lons)
        self.kx = math.cos(math.radians((max(lats) + min(lats)) / 2))
        span_x = max((max(lons) - self.lon_min) * self.kx, 1e-6)
        span_y = max(self.lat_max - min(lats), 1e-6)
        self.scale = (WIDTH - 2 * MARGIN) / max(span_x, span_y)
        self.height = span_y * self.scale + 2 * MARGIN
        self.x_offset = (WIDTH - 2 * MARGIN - span_x * self.scale) / 2

    def __call__(self, lat: float, lon: float) -> Point:
        return Point(
            round(MARGIN + self.x_offset + (lon - self.lon_min) * self.kx * self.scale, 1),
            round(MARGIN + (self.lat_max - lat) * self.scale, 1),
        )


def _points(points: list[Point]) -> str:
    return " ".join(f"{p.x},{p.y}" for p in points)


def draw(city: RoutesMap) -> MapDrawing:
    """Project the window's map onto the viewBox."""
    places: list[Place] = [*city.neighborhoods, *city.banks, *city.depots]
    project = Projection([(p.lat, p.lon) for p in places])
    bank_at = {b.id: project(b.lat, b.lon) for b in city.banks}
    depot_at = {d.id: project(d.lat, d.lon) for d in city.depots}
    drawings: list[RouteDrawing] = []
    for index, route in enumerate(city.routes):
        home = depot_at.get(route.depot_id, Point(MARGIN, MARGIN))
        path = [home] + [bank_at[s.bank_id] for s in route.stops if s.bank_id in bank_at] + [home]
        reached = sum(1 for s in route.stops if s.reached)
        finished = route.done == len(route.stops) and route.status.value.startswith("completed")
        split = len(path) if finished else reached + 1
        drawing = RouteDrawing(
            route_id=route.id,
            van=route.van,
            colour=PALETTE[index % len(PALETTE)],
            driven=_points(path[:split]) if split > 1 else "",
            ahead=_points(path[split - 1 :]) if not finished else "",
            stops=[
                (bank_at[s.bank_id], s.sequence, s.reached)
                for s in route.stops
                if s.bank_id in bank_at
            ],
            stale=route.stale_minutes is not None,
        )
        if route.status.value == "in_progress":
            drawing.van_at = path[reached] if reached < len(path) else home
        drawings.append(drawing)
    return MapDrawing(
        height=round(project.height, 1),
        neighborhoods=[project(h.lat, h.lon) for h in city.neighborhoods],
        banks=[(bank_at[b.id], b.online) for b in city.banks],
        depots=[(depot_at[d.id], d.name) for d in city.depots],
        routes=drawings,
        unassigned=[bank_at[u.bank_id] for u in city.unassigned if u.bank_id in bank_at],
    )
