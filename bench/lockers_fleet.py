"""The locker benchmark's processes: the API, bridge and simulated fleet each in its own
process, and the waits on what they have stored (banks online, commands still pending)."""

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


class Procs:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], **env: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            args, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    def stop(self, name: str, timeout: float = 30) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def online_count(sessions: sessionmaker[Session], since: Any = None) -> int:
    from lockers.models import LockerBankState

    with sessions() as db:
        query = (
            select(func.count())
            .select_from(LockerBankState)
            .where(LockerBankState.online.is_(True))
        )
        if since is not None:
            query = query.where(LockerBankState.last_seen_at >= since)
        return int(db.scalar(query) or 0)


def pending_count(sessions: sessionmaker[Session]) -> int:
    from lockers.models import CommandStatus, LockerCommand

    with sessions() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(LockerCommand)
                .where(LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)))
            )
            or 0
        )


def run_fleet(
    procs: Procs,
    args: argparse.Namespace,
    *,
    prefix: str,
    mqtt_url: str,
    sessions: sessionmaker[Session],
    stats: Path,
    fleet_url: str | None = None,
    credentials: bool = False,
) -> None:
    from app.core.db import utcnow

    since = utcnow()
    procs.start(
        f"bridge-{stats.stem}",
        [str(BIN / "pickup"), "lockers", "bridge"],
        MQTT_URL=mqtt_url,
        LOCKERS_TOPIC_PREFIX=prefix,
    )
    cmd = [
        str(BIN / "pickup"),
        "lockers",
        "simulate",
        "--banks",
        str(args.banks),
        "--heartbeat",
        "30",
        "--auto-close",
        "0.05",
        "--stats-file",
        str(stats),
    ]
    if credentials:
        cmd.append("--credentials")
    procs.start(
        f"fleet-{stats.stem}", cmd, MQTT_URL=fleet_url or mqtt_url, LOCKERS_TOPIC_PREFIX=prefix
    )
    started = time.perf_counter()
    wait_until(lambda: online_count(sessions, since) >= args.banks, 180, "banks online")
    print(f"  {args.banks} banks online in {time.perf_counter() - started:.1f}s")
    wait_until(lambda: pending_count(sessions) == 0, 300, "code pushes acked")
    print(f"  code pushes acked after {time.perf_counter() - started:.1f}s")
    time.sleep(10)  # let stragglers (duplicate acks of re-sent pushes) drain


def stop_fleet(procs: Procs, stats: Path) -> dict[str, Any]:
    procs.stop(f"fleet-{stats.stem}")
    procs.stop(f"bridge-{stats.stem}")
    return json.loads(stats.read_text()) if stats.exists() else {}
