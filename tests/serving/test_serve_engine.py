"""`pickup serve` in one process on the embedded defaults runs its HTTP on httptools and uvloop
while the embedded broker (its own thread and asyncio loop) and the bridge keep working;
`--loop asyncio --http h11` still serves, without either."""

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.serving.processes import ESTABLISHED, Served, mapped, serve, sockets_of, tcp_rows


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def served_plain(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, "--loop", "asyncio", "--http", "h11")


def _broker_answers(port: int) -> bool:
    """Whether the broker answers an MQTT CONNECT (with a refusal: it takes no anonymous
    client, but answering at all needs its loop serving)."""
    answered = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{port}")
    client.on_connect = lambda *_args: answered.set()
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        return answered.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_one_process_serves_on_uvloop_with_the_broker_and_bridge_beside(served: Served) -> None:
    process, http_port, mqtt_port = served.process, served.http_port, served.mqtt_port
    assert mapped(process.pid, "uvloop/loop"), "the HTTP server runs on uvloop"
    assert mapped(process.pid, "httptools/parser"), "requests are parsed by httptools"
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    bridge = {i for _, rp, st, i in tcp_rows() if rp == mqtt_port and st == ESTABLISHED}
    assert sockets_of(process.pid) & bridge, "the bridge is connected to the embedded broker"
    assert _broker_answers(mqtt_port), "the embedded broker accepts an MQTT client"
    process.send_signal(signal.SIGTERM)
    # One uvicorn process re-raises the signal once shut down: -SIGTERM, not a kill after 30 s.
    assert process.wait(30) == -signal.SIGTERM


def test_loop_and_parser_can_be_the_pure_python_ones(served_plain: Served) -> None:
    process, http_port, mqtt_port = (
        served_plain.process,
        served_plain.http_port,
        served_plain.mqtt_port,
    )
    assert not mapped(process.pid, "uvloop/loop")
    assert not mapped(process.pid, "httptools/parser")
    assert httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=10).status_code == 200
    assert _broker_answers(mqtt_port)
