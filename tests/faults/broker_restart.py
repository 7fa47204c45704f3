"""Scenario: Mosquitto restarted in the middle of a stream of deposits.

A Mosquitto of our own (per-locker passwords and the ACL) carries the bridge and a fleet of
simulated banks, each with five reserved compartments. Drivers ask for deposits at a steady pace
(`lockers.deposit.request_deposit`, the service behind the driver's deposit button); a third of
the way in the broker is stopped (SIGTERM, or SIGKILL: nothing saved) and started again. A
driver whose bank is reported offline waits and asks again, as at the locker's door.

Afterwards every parcel must be ready for pickup, its open command acked, and its door opened
exactly once at the bank (the simulator counts executions per command); one `parcel.ready`
event each. Parcels not ready or commands never acked are lost; a second door opening, a second
open command executed or a second `parcel.ready` are duplicated.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.events.models import OutboxEvent
from lockers import deposit, domain_events
from lockers.config import get_locker_settings
from lockers.credentials import locker_password
from lockers.models import CommandStatus, LockerCommand
from lockers.simulator import Fleet
from logistics.models import Parcel, ParcelStatus
from tests.faults.servers import environment
from tests.lockers.conftest import FAST_SETTINGS, World, build_world, start_bridge, wait_for
from tests.support import mosquitto

PREFIX = "lockers"
LABELS = ("A1", "A2", "A3", "F1", "R1")


@dataclass
class DepositResult:
    banks: int
    deposits: int
    kill: bool
    refused_offline: int = 0
    acked: int = 0
    ready: int = 0
    door_openings: int = 0
    lost: int = 0
    duplicated: int = 0
    bridge_reconnects: int = 0
    settle_s: float = 0.0
    wall_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "banks": self.banks,
            "deposits": self.deposits,
            "broker stop": "SIGKILL" if self.kill else "SIGTERM",
            "refused while offline (retried)": self.refused_offline,
            "acked": self.acked,
            "ready": self.ready,
            "door openings": self.door_openings,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "settled after restart s": round(self.settle_s, 1),
            "wall_s": round(self.wall_s, 1),
        }


def run(
    sessions: sessionmaker[Session],
    *,
    banks: int = 8,
    drivers: int = 4,
    kill: bool = True,
    down_for: float = 1.0,
    pace_s: float = 0.03,
    heartbeat_s: float | None = None,
    event_gap_grace_s: float | None = None,
    workdir: Path | None = None,
) -> DepositResult:
    """The whole scenario on `sessions`' database and a Mosquitto of its own. The locker tests'
    short timeouts (heartbeats every 0.5 s), or heartbeats every `heartbeat_s` (the server
    calling a bank offline after three missed)."""
    started = time.monotonic()
    settings = dict(FAST_SETTINGS)
    if heartbeat_s is not None:
        settings["LOCKERS_HEARTBEAT_SECONDS"] = str(heartbeat_s)
        settings["LOCKERS_OFFLINE_AFTER_SECONDS"] = str(3 * heartbeat_s)
    if event_gap_grace_s is not None:
        settings["LOCKERS_EVENT_GAP_GRACE_SECONDS"] = str(event_gap_grace_s)
    with environment(settings, get_locker_settings.cache_clear):
        worlds = []
        for _ in range(banks):
            with sessions() as db:
                worlds.append(build_world(db, sessions, code=f"fb-{uuid.uuid4().hex[:10]}"))
        parcels = [(w, w.parcel(label).id) for w in worlds for label in LABELS]
        result = DepositResult(banks=banks, deposits=len(parcels), kill=kill)
        users = [("pickup-bridge", "bridge-secret")]
        users += [(w.bank.code, locker_password(w.bank.code)) for w in worlds]
        folder = workdir or Path(tempfile.mkdtemp(prefix="pickup-fault-mosq-"))
        broker = mosquitto.MosquittoProcess(
            folder, users=users, acl=mosquitto.acl_text(PREFIX)
        ).start()
        target = broker.target
        bridge_target = type(target)(
            host=target.host, port=target.port, username="pickup-bridge", password="bridge-secret"
        )
        bridge = start_bridge(bridge_target, sessions, PREFIX)
        fleet = Fleet(target, prefix=PREFIX, heartbeat_s=heartbeat_s or 0.5, keepalive_s=5,
                      auto_close_s=0.05, reconnect_min_s=0.1, reconnect_max_s=0.5)  # fmt: skip
        simulated = []
        for w in worlds:
            spec = w.spec()
            spec.password = locker_password(w.bank.code)
            simulated.append(fleet.add_bank(spec))
        fleet.start()
        try:
            if not fleet.wait_online(20):
                raise RuntimeError("the simulated banks did not come online")
            restarted_at = _deposit_through_a_restart(
                parcels, result, broker, kill, down_for, drivers, pace_s
            )
            _settle(sessions, parcels, result)
            result.settle_s = time.monotonic() - restarted_at
            _count(sessions, parcels, simulated, result)
            result.bridge_reconnects = max(0, int(bridge.stats["connects"]) - 1)
            if "not authorised" in broker.log().lower():
                result.problems.append("the broker refused someone (ACL)")
        finally:
            fleet.stop()
            bridge.stop(purge_session=True)
            broker.stop()
            if workdir is None:
                shutil.rmtree(folder, ignore_errors=True)
    result.wall_s = time.monotonic() - started
    return result


def _deposit_through_a_restart(
    parcels: list[tuple[World, int]],
    result: DepositResult,
    broker: mosquitto.MosquittoProcess,
    kill: bool,
    down_for: float,
    drivers: int,
    pace_s: float,
) -> float:
    """Every deposit asked for (retrying while its bank is offline), the broker restarted a
    third of the way; when the broker came back (monotonic seconds)."""
    lock = threading.Lock()
    asked = Counter[str]()
    back: list[float] = []

    def restart() -> None:
        broker.restart(kill=kill, down_for=down_for)
        back.append(time.monotonic())

    restarter = threading.Thread(target=restart)

    def drive(item: tuple[World, int]) -> None:
        world, parcel_id = item
        refused = request_deposit_until_online(world, parcel_id)
        with lock:
            result.refused_offline += refused
            asked["done"] += 1
            if asked["done"] == len(parcels) // 3:
                restarter.start()
        time.sleep(pace_s)

    with ThreadPoolExecutor(drivers) as pool:
        list(pool.map(drive, parcels))
    restarter.join()
    return back[0]


def request_deposit_until_online(world: World, parcel_id: int, patience_s: float = 120) -> int:
    """Ask for the deposit as a driver at the door does: while the bank is reported offline,
    wait and ask again. How many times it was refused."""
    deadline = time.monotonic() + patience_s
    refused = 0
    while True:
        try:
            with world.sessions() as db:
                deposit.request_deposit(
                    db_session=db, parcel_id=parcel_id, driver_id=world.driver.id
                )
                db.commit()
            return refused
        except deposit.BankOffline:
            refused += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _settle(
    sessions: sessionmaker[Session], parcels: list[tuple[World, int]], result: DepositResult
) -> None:
    ids = [parcel_id for _, parcel_id in parcels]

    def all_ready() -> bool:
        with sessions() as db:
            ready = db.scalar(
                select(func.count())
                .select_from(Parcel)
                .where(Parcel.id.in_(ids), Parcel.status == ParcelStatus.READY_FOR_PICKUP)
            )
            # An ack may trail its deposit event (a re-sent command is re-acked after the
            # reconnect): settled once every parcel is ready and every open command answered.
            pending = db.scalar(
                select(func.count())
                .select_from(LockerCommand)
                .where(
                    LockerCommand.parcel_id.in_(ids),
                    LockerCommand.purpose == "deposit",
                    LockerCommand.status.in_((CommandStatus.QUEUED, CommandStatus.SENT)),
                )
            )
            return ready == len(ids) and pending == 0

    try:
        wait_for(all_ready, timeout=60, interval=0.2)
    except AssertionError:
        result.problems.append("not every parcel ready and every open command answered in 60 s")


def _count(
    sessions: sessionmaker[Session],
    parcels: list[tuple[World, int]],
    simulated: list[Any],
    result: DepositResult,
) -> None:
    ids = [parcel_id for _, parcel_id in parcels]
    executions: Counter[str] = Counter()
    for bank in simulated:
        executions.update(bank.snapshot()["executions"])
    with sessions() as db:
        commands = db.scalars(
            select(LockerCommand).where(
                LockerCommand.parcel_id.in_(ids), LockerCommand.purpose == "deposit"
            )
        ).all()
        statuses = {p.id: p.status for p in db.scalars(select(Parcel).where(Parcel.id.in_(ids)))}
        ready_events = Counter(
            e.payload.get("parcel_id")
            for e in db.scalars(
                select(OutboxEvent).where(OutboxEvent.kind == domain_events.PARCEL_READY)
            )
        )
    openings = Counter[int]()
    acked = set()
    for command in commands:
        openings[command.parcel_id] += executions[command.id]
        if command.status == CommandStatus.ACKED:
            acked.add(command.parcel_id)
    result.acked = len(acked)
    result.ready = sum(1 for s in statuses.values() if s == ParcelStatus.READY_FOR_PICKUP)
    result.door_openings = sum(openings.values())
    for parcel_id in ids:
        missing = (
            statuses[parcel_id] != ParcelStatus.READY_FOR_PICKUP
            or parcel_id not in acked
            or openings[parcel_id] == 0
        )
        result.lost += missing
        result.duplicated += max(0, openings[parcel_id] - 1)
        result.duplicated += max(0, ready_events[parcel_id] - 1)
