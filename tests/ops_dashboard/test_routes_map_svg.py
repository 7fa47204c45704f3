"""The map's projection and lines: inside the viewBox, the driven legs solid, the rest dashed."""

from datetime import UTC, datetime

from logistics.models import RouteStatus
from ops_dashboard import map_svg
from ops_dashboard.routes_map_queries import Place, RouteRow, RoutesMap, StopRow

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _stop(n: int, bank_id: int, reached: bool) -> StopRow:
    status = "served" if reached else "pending"
    return StopRow(n, n, bank_id, f"bank {bank_id}", status, NOW, NOW, reached)


def _city(route: RouteRow) -> RoutesMap:
    banks = [Place(i, f"bank {i}", 31.2 + i / 100, 121.4 + i / 100) for i in (1, 2, 3)]
    return RoutesMap(
        window=None,  # type: ignore[arg-type]
        routes=[route],
        neighborhoods=[Place(9, "hood", 31.25, 121.45)],
        banks=banks,
        depots=[Place(1, "depot", 31.2, 121.4)],
        unassigned=[],
        vans=[],
        now=NOW,
    )


def test_points_fall_inside_the_viewbox() -> None:
    route = RouteRow(1, 1, "SH-RV-01", "", RouteStatus.PUBLISHED, 1)
    drawing = map_svg.draw(_city(route))
    points = [*drawing.neighborhoods, *(p for p, _ in drawing.banks)]
    assert all(0 <= p.x <= map_svg.WIDTH and 0 <= p.y <= drawing.height for p in points)


def test_driven_legs_are_split_from_those_ahead() -> None:
    stops = [_stop(1, 1, True), _stop(2, 2, False), _stop(3, 3, False)]
    route = RouteRow(1, 1, "SH-RV-01", "", RouteStatus.IN_PROGRESS, 1, stops=stops)
    drawn = map_svg.draw(_city(route)).routes[0]
    assert len(drawn.driven.split()) == 2  # depot -> first stop
    assert len(drawn.ahead.split()) == 4  # first stop -> 2 -> 3 -> depot
    assert drawn.van_at is not None and drawn.driven.split()[-1] == drawn.ahead.split()[0]


def test_a_finished_route_is_all_solid() -> None:
    stops = [_stop(1, 1, True), _stop(2, 2, True)]
    route = RouteRow(1, 1, "SH-RV-01", "", RouteStatus.COMPLETED, 1, stops=stops)
    drawn = map_svg.draw(_city(route)).routes[0]
    assert len(drawn.driven.split()) == 4 and drawn.ahead == "" and drawn.van_at is None
