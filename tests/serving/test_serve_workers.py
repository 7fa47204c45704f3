"""`pickup serve --workers N`: the HTTP workers share the port and both answer, the embedded
broker and bridge run once (in the supervisor), and accepted connections keep TCP_NODELAY."""

import asyncio
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvloop

from app import serving
from tests.serving.processes import ESTABLISHED, LISTEN, Served, serve, sockets_of, tcp_rows


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_connections_accepted_on_the_workers_listener_have_nodelay(loop_factory) -> None:  # type: ignore[no-untyped-def]
    async def nodelay_of_accepted() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        listener = serving.tcp_listener("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
        server.close()
        return value

    # A thread of its own: an earlier test in the same process may have left this thread's
    # running-loop marker set, and asyncio.run refuses to start under it.
    result: list[int] = []

    def run() -> None:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result.append(runner.run(nodelay_of_accepted()))

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(30)
    assert result and result[0] != 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`pickup serve --workers 2` on free ports over a migrated SQLite database of its own."""
    yield from serve(tmp_path, "--workers", "2")


def test_two_workers_share_the_port_and_the_bridge_runs_once(served: Served) -> None:
    supervisor = served.process.pid
    deadline = time.monotonic() + 60
    clients: list[httpx.Client] = []
    try:
        while True:
            client = httpx.Client(base_url=f"http://127.0.0.1:{served.http_port}", timeout=10)
            clients.append(client)
            assert client.get("/healthz").status_code == 200
            rows = tcp_rows()
            connections = {
                i for lp, _, st, i in rows if lp == served.http_port and st == ESTABLISHED
            }
            answering = [p for p in _children(supervisor) if sockets_of(p) & connections]
            if len(answering) == 2:
                break
            assert time.monotonic() < deadline, f"only workers {answering} took connections"
        mqtt = served.mqtt_port
        broker = {i for lp, _, st, i in rows if lp == mqtt and st == LISTEN}
        bridge = {i for _, rp, st, i in rows if rp == mqtt and st == ESTABLISHED}
        holders = [supervisor, *_children(supervisor)]
        assert [p for p in holders if sockets_of(p) & broker] == [supervisor]
        assert bridge, "the bridge is connected to the embedded broker"
        assert [p for p in holders if sockets_of(p) & bridge] == [supervisor]
        assert supervisor not in answering
    finally:
        for client in clients:
            client.close()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0
