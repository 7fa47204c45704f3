"""Servers of our own for the fault scenarios, on other ports in temp directories, so that a
scenario can restart them without touching the machine's shared PostgreSQL and Redis.

- `PostgresProcess`: `initdb` + `pg_ctl` (as the `postgres` user when we are root, since
  initdb refuses root), a Unix socket in the work directory, trust authentication;
- `RedisProcess`: `redis-server` without persistence (a restart empties it, as a crashed
  Redis without AOF would).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lockers.broker import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(path: str) -> int:
    part = path.split("/")[4]
    return int(part) if part.isdigit() else 0


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


class PostgresProcess:
    """A PostgreSQL cluster of our own: initdb once, start/stop/restart on one port."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb) installed")
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.port = port or free_port()
        self.data = workdir / "data"
        self.socket_dir = workdir / "socket"
        self.log = workdir / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database (psycopg 3)."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, timeout=120)

    def init(self) -> PostgresProcess:
        """initdb (trust auth, no fsync: a test cluster) in the work directory."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.workdir, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            # fsync off: a process crash keeps what was written (only an OS crash would not);
            # synchronous_commit stays on, so an acknowledged commit survives `immediate`.
            conf.write("fsync = off\nfull_page_writes = off\n")
            conf.write("max_connections = 100\n")
        return self

    def start(self, timeout: float = 30.0) -> PostgresProcess:
        """Start and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "-t", str(int(timeout)), "start")  # fmt: skip
        _wait_for_port(self.port, timeout)
        return self

    def stop(self, *, mode: str = "fast") -> None:
        """Stop: `fast` ends every session (as a restart by an operator does), `immediate`
        is a crash (no shutdown checkpoint; recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, *, down_for: float = 1.0, mode: str = "fast") -> None:
        """Stop, stay down for `down_for` seconds, start again on the same port."""
        self.stop(mode=mode)
        time.sleep(down_for)
        self.start()

    def create_database(self, name: str) -> str:
        """A new database; its URL."""
        self._run("psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f'CREATE DATABASE "{name}"')  # fmt: skip
        return self.url_for(name)


class RedisProcess:
    """`redis-server` of our own without persistence, restartable on the same port."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def binary() -> str:
        return REDIS_SERVER

    def start(self, timeout: float = 10.0) -> RedisProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, timeout)
        return self

    def stop(self, *, kill: bool = True) -> None:
        """Stop: SIGKILL by default (a crash: everything queued in it is gone)."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self._proc.wait(10)
        self._proc = None

    def restart(self, *, down_for: float = 1.0, kill: bool = True) -> None:
        self.stop(kill=kill)
        time.sleep(down_for)
        self.start()


@contextmanager
def environment(values: dict[str, str], clear_caches: Callable[[], None]) -> Iterator[None]:
    """Settings from these variables for a while (`clear_caches` drops the cached settings
    objects on the way in and out); the previous values come back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    clear_caches()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        clear_caches()
