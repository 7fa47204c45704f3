"""A Mosquitto process of our own, for tests and benchmarks that must restart a broker or
check the ACL: config, password file (mosquitto_passwd -b) and ACL in a directory, a free
port, start/stop/restart. Production configuration lives in deploy/mosquitto/."""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from lockers.broker import MqttTarget, free_port

MOSQUITTO = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
BRIDGE_USER = "pickup-bridge"


def available() -> bool:
    """Whether a mosquitto binary and mosquitto_passwd are installed."""
    return Path(MOSQUITTO).exists() and shutil.which("mosquitto_passwd") is not None


def acl_text(prefix: str = "lockers", bridge_user: str = BRIDGE_USER) -> str:
    """The ACL: each locker (username = bank code) only under its own bank id; the bridge
    reads every bank's state/events/acks and writes commands."""
    return (
        "# Lockers: the username is the bank code; %u pins every topic to it.\n"
        f"pattern write {prefix}/%u/state\n"
        f"pattern write {prefix}/%u/events\n"
        f"pattern write {prefix}/%u/acks\n"
        f"pattern read {prefix}/%u/commands\n"
        "\n# The bridge.\n"
        f"user {bridge_user}\n"
        f"topic read {prefix}/+/state\n"
        f"topic read {prefix}/+/events\n"
        f"topic read {prefix}/+/acks\n"
        f"topic write {prefix}/+/commands\n"
    )


def write_passwords(path: Path, entries: Iterable[tuple[str, str]]) -> None:
    """A password file made with `mosquitto_passwd -b`, one call per login."""
    path.unlink(missing_ok=True)
    for index, (user, password) in enumerate(entries):
        args = ["mosquitto_passwd", "-b", str(path), user, password]
        if index == 0:
            args.insert(1, "-c")
        subprocess.run(args, check=True, capture_output=True)


class MosquittoProcess:
    """`mosquitto -c <dir>/mosquitto.conf` on a free port; restartable, same port."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        users: Iterable[tuple[str, str]] | None = None,
        password_file: Path | None = None,
        acl: str | None = None,
        persistence: bool = True,
        max_queued: int = 10000,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "per_listener_settings false",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            f"max_queued_messages {max_queued}",
            "max_inflight_messages 100",
            "set_tcp_nodelay true",
            f"log_dest file {self.workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "user root" if os.geteuid() == 0 else "",
        ]
        if users is not None:
            password_file = self.workdir / "passwd"
            write_passwords(password_file, users)
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            (self.workdir / "acl").write_text(acl)
            lines.append(f"acl_file {self.workdir / 'acl'}")
        self.config = self.workdir / "mosquitto.conf"
        self.config.write_text("\n".join(line for line in lines if line) + "\n")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> MqttTarget:
        """Where to connect."""
        return MqttTarget(host="127.0.0.1", port=self.port)

    def start(self, timeout: float = 10.0) -> "MosquittoProcess":
        """Start and wait until the port accepts connections."""
        self._proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop (SIGTERM: saves its persistence file; `kill`: SIGKILL, nothing saved)."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout)
        self._proc = None

    def restart(self, *, down_for: float = 0.5, kill: bool = False) -> None:
        """Stop, stay down for `down_for` seconds, start again on the same port."""
        self.stop(kill=kill)
        time.sleep(down_for)
        self.start()

    def log(self) -> str:
        """The broker's log so far."""
        path = self.workdir / "mosquitto.log"
        return path.read_text() if path.exists() else ""
