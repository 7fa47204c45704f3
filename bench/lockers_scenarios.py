"""The locker benchmark's scenarios: deposit latency at a steady rate (through the driver API or
the service), and deposits in flight across a broker restart (graceful or SIGKILL)."""

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from lockers_fleet import pending_count, wait_until
from lockers_measure import Finished, server_side, summary_ms
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker


def deposit(client: httpx.Client, parcel_id: int) -> tuple[float, float, str, int]:
    t0 = time.perf_counter()
    response = client.post(f"/lockers/parcels/{parcel_id}/deposit")
    t1 = time.perf_counter()
    body = response.json()
    return t0, t1, body.get("id", "") if response.status_code == 202 else "", response.status_code


def deposit_service(
    sessions: sessionmaker[Session], driver_id: int, parcel_id: int
) -> tuple[float, float, str, int]:
    from lockers import deposit as deposit_flow

    t0 = time.perf_counter()
    with sessions() as db:
        command = deposit_flow.request_deposit(
            db_session=db, parcel_id=parcel_id, driver_id=driver_id
        )
    return t0, time.perf_counter(), command.id, 202


def latency(
    args: argparse.Namespace, ctx: dict[str, Any], via: str, parcels: list[int]
) -> dict[str, Any]:
    warm, measured = parcels[: args.warmup], parcels[args.warmup : args.warmup + args.requests]
    finished: Finished = ctx["finished"]
    client = ctx["client"]
    driver_id = ctx["world"]["driver_id"]

    def call(parcel_id: int) -> tuple[float, float, str, int]:
        if via == "http":
            return deposit(client, parcel_id)
        return deposit_service(ctx["sessions"], driver_id, parcel_id)

    for parcel_id in warm:
        call(parcel_id)
    wait_until(lambda: pending_count(ctx["sessions"]) == 0, 60, "warm-up commands")
    time.sleep(3)
    interval = 1.0 / args.rate
    sent: list[tuple[float, float, str, int]] = []
    lock = threading.Lock()
    start = time.perf_counter()

    def one(i: int, parcel_id: int) -> None:
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        result = call(parcel_id)
        with lock:
            sent.append(result)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for i, parcel_id in enumerate(measured):
            pool.submit(one, i, parcel_id)
    ids = [cid for _, _, cid, _ in sent if cid]
    wait_until(lambda: all(cid in finished.times for cid in ids), 300, "acks")
    elapsed = time.perf_counter() - start
    round_trip = [(finished.times[cid][0] - t0) * 1000 for t0, _, cid, _ in sent if cid]
    call_ms = [(t1 - t0) * 1000 for t0, t1, _, _ in sent]
    statuses = [finished.times[cid][1] for cid in ids]
    return {
        "via": via,
        "requests": len(sent),
        "errors": sum(1 for *_, code in sent if code != 202),
        "acked": statuses.count("acked"),
        "rate_per_s": round(len(sent) / elapsed, 1),
        "round_trip_ms": summary_ms(round_trip),
        "call_returned_ms": summary_ms(call_ms),
        **server_side(ctx["sessions"], ids),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def restart(
    args: argparse.Namespace, ctx: dict[str, Any], *, kill: bool, parcel_ids: list[int]
) -> dict[str, Any]:
    from app.events.models import OutboxEvent
    from lockers.models import LockerCommand, LockerEvent
    from logistics.models import Parcel, ParcelStatus

    broker = ctx["broker"]
    client = ctx["client"]
    results: list[tuple[float, float, str, int]] = []
    lock = threading.Lock()
    restarted = threading.Event()
    restart_at: list[float] = []

    def one(parcel_id: int) -> None:
        result = deposit(client, parcel_id)
        with lock:
            results.append(result)
            if len(results) == len(parcel_ids) // 2 and not restarted.is_set():
                restarted.set()

    def bounce() -> None:
        restarted.wait(60)
        restart_at.append(time.perf_counter())
        broker.restart(down_for=args.down_for, kill=kill)

    bouncer = threading.Thread(target=bounce)
    bouncer.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, parcel_ids))
    bouncer.join()
    ids = [cid for _, _, cid, _ in results if cid]
    finished: Finished = ctx["finished"]
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline and not all(cid in finished.times for cid in ids):
        time.sleep(0.2)
    last = max((finished.times[c][0] for c in ids if c in finished.times), default=0.0)

    def ready_count() -> int:
        with ctx["sessions"]() as db:
            return int(
                db.scalar(
                    select(func.count())
                    .select_from(Parcel)
                    .where(
                        Parcel.id.in_(parcel_ids), Parcel.status == ParcelStatus.READY_FOR_PICKUP
                    )
                )
                or 0
            )

    # Door-closed reports lost with a killed broker come back by replay: wait for them.
    while time.monotonic() < deadline and ready_count() < len(ids):
        time.sleep(0.5)
    all_ready = time.perf_counter()
    time.sleep(2)
    with ctx["sessions"]() as db:
        commands = {
            c.id: c for c in db.scalars(select(LockerCommand).where(LockerCommand.id.in_(ids)))
        }
        statuses = [commands[c].status.value for c in ids if c in commands]
        ready = db.scalar(
            select(func.count())
            .select_from(Parcel)
            .where(Parcel.id.in_(parcel_ids), Parcel.status == ParcelStatus.READY_FOR_PICKUP)
        )
        ready_events = list(
            db.scalars(select(OutboxEvent).where(OutboxEvent.kind == "parcel.ready_for_pickup"))
        )
        per_parcel: dict[int, int] = {}
        for event in ready_events:
            pid = event.payload["parcel_id"]
            if pid in parcel_ids:
                per_parcel[pid] = per_parcel.get(pid, 0) + 1
        closed = list(db.scalars(select(LockerEvent).where(LockerEvent.type == "door_closed")))
        closes: dict[int, int] = {}
        for event in closed:
            pid = event.payload.get("parcel_id")
            if pid in parcel_ids and event.payload.get("data", {}).get("parcel_present"):
                closes[pid] = closes.get(pid, 0) + 1
        attempts = [commands[c].attempts for c in ids if c in commands]
    final = {"acked", "failed", "expired"}
    return {
        "mode": "SIGKILL" if kill else "SIGTERM",
        "deposits": len(parcel_ids),
        "accepted_by_api": len(ids),
        "http_errors": sum(1 for *_, code in results if code != 202),
        "acked": statuses.count("acked"),
        "failed": statuses.count("failed"),
        "expired": statuses.count("expired"),
        "lost": sum(1 for s in statuses if s not in final) + (len(ids) - len(statuses)),
        "parcels_ready": ready,
        "ready_events_max_per_parcel": max(per_parcel.values(), default=0),
        "door_closed_events_max_per_parcel": max(closes.values(), default=0),
        "resent_commands": sum(1 for a in attempts if a > 1),
        "seconds_from_restart_to_last_ack": round(last - restart_at[0], 2) if restart_at else None,
        "seconds_from_restart_to_all_ready": round(all_ready - restart_at[0], 2)
        if restart_at
        else None,
    }
