"""`pickup serve` as a subprocess on free ports over a SQLite database of its own, and what
/proc tells about its sockets and loaded libraries."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from app import dbtools
from app.schema import load_all_models
from lockers.broker import free_port

LISTEN, ESTABLISHED = "0A", "01"


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    http_port: int
    mqtt_port: int


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_rows() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        rows.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16), state, inode))
    return rows


def mapped(pid: int, name: str) -> bool:
    """Whether a shared object whose path contains `name` is loaded in the process."""
    return any(name in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines())


def serve(tmp_path: Path, *options: str) -> Iterator[Served]:
    """`pickup serve OPTIONS` on free ports over a migrated SQLite database of its own, on the
    embedded defaults, until it answers `/healthz`; stopped (SIGTERM, then SIGKILL) after."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    load_all_models()
    dbtools.upgrade(url)
    http_port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "development"}
    for name in ("MQTT_URL", "CELERY_BROKER_URL", "LOCKERS_EMBEDDED_PORT", "PICKUP_WORKERS"):
        env.pop(name, None)
    command = [sys.executable, "-m", "app.cli", "serve", *options]
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
            assert process.poll() is None, f"pickup serve {' '.join(options)} exited"
            assert time.monotonic() < deadline, f"pickup serve {' '.join(options)} did not answer"
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
