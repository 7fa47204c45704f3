"""Travel-time sources: great-circle estimate, and the OSRM client against a local fake server."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from logistics.solver.travel import GreatCircleTravel, OsrmError, OsrmTravel, haversine_m

PARIS = (48.8566, 2.3522)
LYON = (45.7640, 4.8357)


def test_haversine_matches_a_known_distance() -> None:
    assert haversine_m(PARIS, LYON) == pytest.approx(391_500, rel=0.01)
    assert haversine_m(PARIS, PARIS) == 0


def test_great_circle_travel_applies_detour_and_speed() -> None:
    seconds, meters = GreatCircleTravel(speed_kmh=36, detour_factor=1.5).matrix([PARIS, LYON])
    assert meters[0][1] == pytest.approx(1.5 * haversine_m(PARIS, LYON))
    assert seconds[0][1] == pytest.approx(meters[0][1] / 10)  # 36 km/h = 10 m/s
    assert seconds[0][0] == 0 and meters[1][0] == meters[0][1]


@pytest.mark.parametrize(("speed", "detour"), [(0, 1.3), (-5, 1.3), (30, 0.9)])
def test_great_circle_travel_refuses_nonsense(speed: float, detour: float) -> None:
    with pytest.raises(ValueError):
        GreatCircleTravel(speed_kmh=speed, detour_factor=detour)


class FakeOsrm(BaseHTTPRequestHandler):
    """Answers /table/v1/driving/... like OSRM: durations = 60 s per index step."""

    answer: dict[str, Any] | None = None
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        FakeOsrm.requests.append(self.path)
        url = urlsplit(self.path)
        coordinates = url.path.removeprefix("/table/v1/driving/").split(";")
        n = len(coordinates)
        body = FakeOsrm.answer or {
            "code": "Ok",
            "durations": [[60.0 * abs(i - j) for j in range(n)] for i in range(n)],
            "distances": [[500.0 * abs(i - j) for j in range(n)] for i in range(n)],
        }
        payload = json.dumps(body).encode()
        self.send_response(200 if body.get("code") == "Ok" else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def osrm() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeOsrm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOsrm.answer, FakeOsrm.requests = None, []
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_osrm_table_request_and_answer(osrm: str) -> None:
    seconds, meters = OsrmTravel(osrm).matrix([PARIS, LYON, (45.0, 5.0)])
    assert seconds == [[0, 60, 120], [60, 0, 60], [120, 60, 0]]
    assert meters[0][2] == 1000
    (path,) = FakeOsrm.requests
    assert path == (
        "/table/v1/driving/2.352200,48.856600;4.835700,45.764000;5.000000,45.000000"
        "?annotations=duration,distance"
    )


def test_osrm_error_answer_raises(osrm: str) -> None:
    FakeOsrm.answer = {"code": "InvalidQuery", "message": "bad coordinates"}
    with pytest.raises(OsrmError, match="failed"):
        OsrmTravel(osrm).matrix([PARIS, LYON])


def test_osrm_unreachable_pairs_raise(osrm: str) -> None:
    FakeOsrm.answer = {
        "code": "Ok",
        "durations": [[0, None], [1, 0]],
        "distances": [[0, 1], [1, 0]],
    }
    with pytest.raises(OsrmError, match="unreachable"):
        OsrmTravel(osrm).matrix([PARIS, LYON])


def test_osrm_down_raises() -> None:
    with pytest.raises(OsrmError):
        OsrmTravel("http://127.0.0.1:9", timeout_s=1).matrix([PARIS, LYON])
