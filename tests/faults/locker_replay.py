"""Scenario: a locker offline for a day's events, then reconnecting and replaying them.

A bank full of deposited parcels (through the live flow: deposit command, door events, codes
pushed to the locker) loses its network. While it is offline the day goes on at the locker:
every resident collects with the code (the locker checks codes itself), some mistype theirs,
one locks the keypad. The locker keeps every event (QoS 1, numbered without gaps). When the
link comes back they arrive; then the locker replays the whole day once more (as one restored
from a backup would). Every event must be stored once and applied once: each parcel collected,
one `parcel.collected` each, the bank's event numbers contiguous up to the locker's.

Lost: events the locker issued that the server never stored, or pickups never applied.
Duplicated: an event stored twice, or a pickup applied twice.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.enums import CompartmentSize, TemperatureClass
from app.events.models import OutboxEvent
from lockers import codes, domain_events
from lockers.broker import MqttTarget
from lockers.config import get_locker_settings
from lockers.models import LockerBankState, LockerEvent
from lockers.simulator import Fleet
from logistics.models import Parcel, ParcelStatus
from tests.faults.broker_restart import request_deposit_until_online
from tests.faults.servers import environment
from tests.lockers.conftest import FAST_SETTINGS, build_world, start_bridge, wait_for


@dataclass
class ReplayResult:
    parcels: int
    events_offline: int = 0
    events_stored: int = 0
    replayed: int = 0
    collected: int = 0
    lost: int = 0
    duplicated: int = 0
    contiguous: bool = False
    catch_up_s: float = 0.0
    wall_s: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "parcels collected offline": self.parcels,
            "events buffered": self.events_offline,
            "events replayed again": self.replayed,
            "events stored": self.events_stored,
            "collected": self.collected,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "event numbers contiguous": self.contiguous,
            "caught up after reconnect s": round(self.catch_up_s, 1),
            "wall_s": round(self.wall_s, 1),
        }


def run(
    sessions: sessionmaker[Session],
    target: MqttTarget,
    *,
    parcels: int = 20,
    prefix: str | None = None,
) -> ReplayResult:
    """The whole scenario on `sessions`' database through the broker at `target`."""
    started = time.monotonic()
    prefix = prefix or f"f{uuid.uuid4().hex[:10]}/lockers"
    result = ReplayResult(parcels=parcels)
    with environment(FAST_SETTINGS, get_locker_settings.cache_clear):
        with sessions() as db:
            world = build_world(db, sessions, code=f"fr-{uuid.uuid4().hex[:10]}")
            for i in range(parcels):
                label = f"C{i + 1:03d}"
                world.compartments[label] = world.make.compartment(
                    world.bank, label=label, zone=TemperatureClass.CHILLED, size=CompartmentSize.M
                )
            db.commit()
            ids = [world.parcel(f"C{i + 1:03d}").id for i in range(parcels)]
        bridge = start_bridge(target, sessions, prefix)
        fleet = Fleet(target, prefix=prefix, heartbeat_s=0.5, keepalive_s=5, auto_close_s=0.01,
                      keypad_lockout_s=0.2, reconnect_min_s=0.1, reconnect_max_s=0.5)  # fmt: skip
        bank = fleet.add_bank(world.spec())
        fleet.start()
        try:
            wait_for(lambda: _online(sessions, world.bank.id), timeout=20)
            for parcel_id in ids:
                request_deposit_until_online(world, parcel_id)
            wait_for(lambda: _count_status(sessions, ids, ParcelStatus.READY_FOR_PICKUP) == parcels,
                     timeout=60, interval=0.1)  # fmt: skip
            with sessions() as db:
                pickup_codes = [codes.pickup_code_for_parcel(db_session=db, parcel_id=p)
                                for p in ids]  # fmt: skip
            first_seq = bank.event_seq + 1

            bank.drop_link(3600)
            wait_for(lambda: not _online(sessions, world.bank.id), timeout=20)
            _a_day_at_the_locker(bank, pickup_codes)
            last_seq = bank.event_seq
            result.events_offline = last_seq - first_seq + 1

            back = time.monotonic()
            bank.restore_link()
            wait_for(lambda: _contiguous(sessions, world.bank.id) >= last_seq, timeout=60,
                     interval=0.1)  # fmt: skip
            wait_for(lambda: _count_status(sessions, ids, ParcelStatus.COLLECTED) == parcels,
                     timeout=60, interval=0.1)  # fmt: skip
            result.catch_up_s = time.monotonic() - back

            seen = _events_seen(bridge)
            log = bank.event_log
            for seq in range(first_seq, last_seq + 1):
                bank.resend_event(log[seq])
            result.replayed = result.events_offline
            wait_for(lambda: _events_seen(bridge) >= seen + result.replayed, timeout=60,
                     interval=0.1)  # fmt: skip
            time.sleep(0.5)  # anything a late duplicate would still change
            _count(sessions, world.bank.id, ids, first_seq, last_seq, result)
        finally:
            fleet.stop()
            bridge.stop(purge_session=True)
    result.wall_s = time.monotonic() - started
    return result


def _a_day_at_the_locker(bank: Any, codes: list[str | None]) -> None:
    """Every resident collects; every third mistypes once first; one locks the keypad."""
    for i, code in enumerate(codes):
        if i % 3 == 0:
            _type(bank, "000000")
        if i == len(codes) // 2:
            for _ in range(5):
                bank.enter_code("111111")
        assert code is not None
        outcome = _type(bank, code)
        assert outcome.startswith("opened:"), outcome
    time.sleep(0.2)  # the last door closes by itself


def _type(bank: Any, code: str) -> str:
    """Type a code, waiting out a keypad lockout as a resident would."""
    deadline = time.monotonic() + 10
    while (outcome := bank.enter_code(code)) == "locked" and time.monotonic() < deadline:
        time.sleep(0.1)
    return str(outcome)


def _online(sessions: sessionmaker[Session], bank_id: int) -> bool:
    with sessions() as db:
        state = db.get(LockerBankState, bank_id)
        return bool(state and state.online)


def _contiguous(sessions: sessionmaker[Session], bank_id: int) -> int:
    with sessions() as db:
        state = db.get(LockerBankState, bank_id)
        return int(state.event_seq_contiguous or 0) if state else 0


def _count_status(sessions: sessionmaker[Session], ids: list[int], status: ParcelStatus) -> int:
    with sessions() as db:
        return sum(1 for p in db.scalars(select(Parcel).where(Parcel.id.in_(ids))) if
                   p.status == status)  # fmt: skip


def _events_seen(bridge: Any) -> int:
    return sum(n for key, n in bridge.stats.items() if key.startswith("events:"))


def _count(
    sessions: sessionmaker[Session],
    bank_id: int,
    ids: list[int],
    first_seq: int,
    last_seq: int,
    result: ReplayResult,
) -> None:
    with sessions() as db:
        stored = Counter(
            db.scalars(
                select(LockerEvent.seq).where(
                    LockerEvent.bank_id == bank_id,
                    LockerEvent.seq >= first_seq,
                    LockerEvent.seq <= last_seq,
                )
            )
        )
        collected_events = Counter(
            e.payload.get("parcel_id")
            for e in db.scalars(
                select(OutboxEvent).where(OutboxEvent.kind == domain_events.PARCEL_COLLECTED)
            )
        )
    result.events_stored = sum(stored.values())
    result.collected = _count_status(sessions, ids, ParcelStatus.COLLECTED)
    result.contiguous = _contiguous(sessions, bank_id) >= last_seq
    expected = range(first_seq, last_seq + 1)
    result.lost = sum(1 for seq in expected if stored[seq] == 0)
    result.lost += sum(1 for p in ids if collected_events[p] == 0)
    result.duplicated = sum(n - 1 for n in stored.values() if n > 1)
    result.duplicated += sum(max(0, collected_events[p] - 1) for p in ids)
