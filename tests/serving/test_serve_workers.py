"""`pickup serve --workers N`: the HTTP workers share the port and both answer, the embedded
broker and bridge run once (in the supervisor), and accepted connections keep TCP_NODELAY."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import dbtools, serving
from app.schema import load_all_models
from lockers.broker import free_port

LISTEN, ESTABLISHED = "0A", "01"


def test_connections_accepted_on_the_workers_listener_have_nodelay() -> None:
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
    runner = threading.Thread(target=lambda: result.append(asyncio.run(nodelay_of_accepted())))
    runner.start()
    runner.join(30)
    assert result and result[0] != 0


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    http_port: int
    mqtt_port: int


def _sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _tcp_rows() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        rows.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16), state, inode))
    return rows


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
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    load_all_models()
    dbtools.upgrade(url)
    http_port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "development"}
    for name in ("MQTT_URL", "CELERY_BROKER_URL", "LOCKERS_EMBEDDED_PORT", "PICKUP_WORKERS"):
        env.pop(name, None)
    command = [sys.executable, "-m", "app.cli", "serve", "--workers", "2"]
    command += ["--port", str(http_port), "--mqtt-port", str(mqtt_port)]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "pickup serve --workers 2 exited"
            assert time.monotonic() < deadline, "pickup serve --workers 2 did not answer"
            time.sleep(0.3)
        yield Served(process, http_port, mqtt_port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def test_two_workers_share_the_port_and_the_bridge_runs_once(served: Served) -> None:
    supervisor = served.process.pid
    deadline = time.monotonic() + 60
    clients: list[httpx.Client] = []
    try:
        while True:
            client = httpx.Client(base_url=f"http://127.0.0.1:{served.http_port}", timeout=10)
            clients.append(client)
            assert client.get("/healthz").status_code == 200
            rows = _tcp_rows()
            connections = {
                i for lp, _, st, i in rows if lp == served.http_port and st == ESTABLISHED
            }
            answering = [p for p in _children(supervisor) if _sockets_of(p) & connections]
            if len(answering) == 2:
                break
            assert time.monotonic() < deadline, f"only workers {answering} took connections"
        mqtt = served.mqtt_port
        broker = {i for lp, _, st, i in rows if lp == mqtt and st == LISTEN}
        bridge = {i for _, rp, st, i in rows if rp == mqtt and st == ESTABLISHED}
        holders = [supervisor, *_children(supervisor)]
        assert [p for p in holders if _sockets_of(p) & broker] == [supervisor]
        assert bridge, "the bridge is connected to the embedded broker"
        assert [p for p in holders if _sockets_of(p) & bridge] == [supervisor]
        assert supervisor not in answering
    finally:
        for client in clients:
            client.close()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0
