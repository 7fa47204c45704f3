"""Locker benchmarks (results in docs/benchmarks-lockers.md).

1. latency: open-compartment round trip, API call -> outbox -> bridge -> Mosquitto ->
   simulated locker -> ack -> stored, with N simulated banks online. Measured from just before
   the driver's HTTP `POST /lockers/parcels/{id}/deposit` to the moment the bridge committed
   the locker's ack (PostgreSQL NOTIFY `locker_command_finished`, sent at that commit).
2. restart: deposits in flight while a Mosquitto of our own (ACL + per-locker passwords) is
   restarted, gracefully (SIGTERM) and by SIGKILL: every deposit must end acked or reported
   failed, none lost, none applied twice.

Every part runs as in production, each in its own process: PostgreSQL, Mosquitto, the API
(uvicorn), the bridge (`pickup lockers bridge`), the fleet (`pickup lockers simulate`).

    .venv/bin/python bench/lockers.py                       # both, 1,000 banks
    .venv/bin/python bench/lockers.py --scenario latency --requests 2000 --rate 40
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-" + secrets.token_hex(16)
os.environ["SECRET_KEY"] = SECRET
os.environ.setdefault("ENVIRONMENT", "development")

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

BIN = ROOT / ".venv" / "bin"


# --- database ----------------------------------------------------------------------------------


def create_database(base_url: str) -> str:
    """A fresh migrated PostgreSQL database; its URL."""
    from app import dbtools
    from app.core.db import make_engine

    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"pickup_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db_url = url.set(database=name).render_as_string(hide_password=False)
    dbtools.upgrade(db_url)
    return db_url


def drop_database(db_url: str) -> None:
    from app.core.db import make_engine

    url = make_url(db_url)
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def build_world(sessions: sessionmaker[Session], banks: int) -> dict[str, Any]:
    """A city with `banks` banks (A1, A2 chilled, F1 frozen, R1 ambient), one resident each,
    and one reserved parcel per compartment; codes issued and queued for the lockers."""
    from app.catalog.models import Product
    from app.cities.models import City
    from app.core.db import utcnow
    from app.core.enums import CompartmentSize, TemperatureClass
    from app.core.security import hash_password
    from app.groupbuys.models import GroupBuy
    from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
    from app.orders.models import Order, OrderLine, OrderStatus
    from app.residents.models import Resident
    from app.staff.models import StaffRole, StaffUser
    from app.windows.models import DeliveryWindow
    from lockers import intake
    from logistics.models import Parcel, ParcelStatus

    now = utcnow()
    layout = [
        ("A1", TemperatureClass.CHILLED),
        ("A2", TemperatureClass.CHILLED),
        ("F1", TemperatureClass.FROZEN),
        ("R1", TemperatureClass.AMBIENT),
    ]
    with sessions() as db:
        city = City(name="Bench City", timezone="Asia/Shanghai", currency="CNY", country_code="CN")
        db.add(city)
        db.flush()
        driver = StaffUser(
            city_id=city.id,
            username="bench-driver",
            password_hash=hash_password("x"),
            role=StaffRole.DRIVER,
        )
        product = Product(
            city_id=city.id,
            sku="B-1",
            name="Greens",
            unit="1 kg",
            price_minor=900,
            temperature_class=TemperatureClass.CHILLED,
            packed_volume_ml=1000,
            weight_g=1000,
            max_minutes_out=120,
        )
        window = DeliveryWindow(
            city_id=city.id,
            local_date=now.date(),
            slot_name="bench",
            cutoff_at=now - timedelta(hours=5),
            ready_by=now + timedelta(hours=1),
            pickup_deadline=now + timedelta(hours=30),
        )
        db.add_all([driver, product, window])
        db.flush()
        hoods = [
            Neighborhood(city_id=city.id, name=f"Hood {i}", lat=31.2, lon=121.4)
            for i in range(max(1, banks // 10))
        ]
        db.add_all(hoods)
        db.flush()
        gbs = [
            GroupBuy(
                neighborhood_id=h.id,
                window_id=window.id,
                product_id=product.id,
                min_quantity=1,
                share_token=secrets.token_hex(8),
            )
            for h in hoods
        ]
        db.add_all(gbs)
        db.flush()
        bank_rows = [
            LockerBank(
                neighborhood_id=hoods[i % len(hoods)].id,
                code=f"bench-{i:04d}",
                name=f"Bench bank {i}",
                lat=31.2,
                lon=121.4,
            )
            for i in range(banks)
        ]
        db.add_all(bank_rows)
        db.flush()
        compartments = {}
        for bank in bank_rows:
            for label, zone in layout:
                c = Compartment(
                    bank_id=bank.id,
                    label=label,
                    size=CompartmentSize.M,
                    zone=zone,
                    inner_volume_ml=45_000,
                    status=CompartmentStatus.RESERVED,
                )
                compartments[(bank.id, label)] = c
        db.add_all(compartments.values())
        residents = [
            Resident(neighborhood_id=b.neighborhood_id, phone=f"+86139{i:08d}")
            for i, b in enumerate(bank_rows)
        ]
        db.add_all(residents)
        db.flush()
        orders = []
        for i, bank in enumerate(bank_rows):
            for _label, _zone in layout:
                order = Order(
                    resident_id=residents[i].id,
                    window_id=window.id,
                    neighborhood_id=bank.neighborhood_id,
                    currency="CNY",
                    status=OrderStatus.OUT_FOR_DELIVERY,
                    paid_minor=900,
                )
                order.lines.append(
                    OrderLine(
                        group_buy_id=gbs[i % len(hoods)].id,
                        product_id=product.id,
                        quantity=1,
                        paid_unit_price_minor=900,
                    )
                )
                orders.append(order)
        db.add_all(orders)
        db.flush()
        parcels: dict[str, list[int]] = {label: [] for label, _ in layout}
        rows = []
        k = 0
        for i, bank in enumerate(bank_rows):
            for label, zone in layout:
                rows.append(
                    Parcel(
                        order_id=orders[k].id,
                        window_id=window.id,
                        resident_id=residents[i].id,
                        neighborhood_id=bank.neighborhood_id,
                        temperature_class=zone,
                        volume_ml=2000,
                        weight_g=1000,
                        compartment_size=CompartmentSize.M,
                        bank_id=bank.id,
                        compartment_id=compartments[(bank.id, label)].id,
                        status=ParcelStatus.LOADED,
                        pickup_deadline=now + timedelta(hours=30),
                    )
                )
                k += 1
        db.add_all(rows)
        db.flush()
        label_of = {c.id: label for (_, label), c in compartments.items()}
        for parcel in rows:
            parcels[label_of[parcel.compartment_id]].append(parcel.id)
        db.commit()
        driver_id = driver.id
        started = time.perf_counter()
        # What the plan's publication does: issue every code and queue its push.
        for parcel in rows:
            intake.prepare_parcel(db_session=db, parcel_id=parcel.id)
        db.commit()
        print(f"  codes issued for {len(rows)} parcels in {time.perf_counter() - started:.1f}s")
    return {"driver_id": driver_id, "parcels": parcels}


# --- processes ---------------------------------------------------------------------------------


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


class Finished:
    """LISTEN locker_command_finished: when each command's final state was committed."""

    def __init__(self, db_url: str) -> None:
        self.times: dict[str, tuple[float, str]] = {}
        self._stop = threading.Event()
        dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("LISTEN locker_command_finished")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for note in self._conn.notifies(timeout=0.5):
                command_id, status = note.payload.rsplit(":", 1)
                self.times.setdefault(command_id, (time.perf_counter(), status))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(pct(values, 50), 2),
        "p95": round(pct(values, 95), 2),
        "p99": round(pct(values, 99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


# --- scenarios ---------------------------------------------------------------------------------


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


def server_side(sessions: sessionmaker[Session], ids: list[str]) -> dict[str, Any]:
    from lockers.models import LockerCommand

    with sessions() as db:
        rows = list(db.scalars(select(LockerCommand).where(LockerCommand.id.in_(ids))))
    queued = [
        (r.first_sent_at - r.created_at).total_seconds() * 1000 for r in rows if r.first_sent_at
    ]
    locker = [
        (r.finished_at - r.first_sent_at).total_seconds() * 1000
        for r in rows
        if r.finished_at and r.first_sent_at
    ]
    attempts = [r.attempts for r in rows]
    return {
        "queued_to_sent_ms": summary_ms(queued),
        "sent_to_ack_received_ms": summary_ms(locker),
        "max_attempts": max(attempts),
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


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["latency", "restart", "all"], default="all")
    parser.add_argument("--banks", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000, help="measured deposits per run")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rate", type=float, default=25.0, help="deposits per second")
    parser.add_argument(
        "--via",
        default="http,service",
        help="how deposits are asked: http (the driver API), service, or both",
    )
    parser.add_argument("--deposits", type=int, default=200, help="in flight per restart")
    parser.add_argument("--down-for", type=float, default=2.0, help="broker downtime, s")
    parser.add_argument("--settle", type=float, default=150.0, help="max wait after restart, s")
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-lockers-"))
    print(f"workdir {workdir}")
    db_url = create_database(args.database_url)
    os.environ["DATABASE_URL"] = db_url
    from app.core.db import make_engine
    from app.core.security import Principal, create_access_token
    from lockers.broker import free_port
    from lockers.credentials import locker_password
    from tests.support import mosquitto

    engine = make_engine(db_url, pool_size=5)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": SECRET,
        "LOCKERS_HOUSEKEEPING_SECONDS": "3600",
        "LOCKERS_BRIDGE_CLIENT_ID": f"bench-bridge-{tag}",
        "PYTHONUNBUFFERED": "1",
    }
    procs = Procs(workdir, env)
    results: dict[str, Any] = {"banks": args.banks, "machine": machine()}
    finished = None
    try:
        print(f"building {args.banks} banks ...")
        world = build_world(sessions, args.banks)
        port = free_port()
        procs.start(
            "api",
            [
                str(BIN / "uvicorn"),
                "app.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        )
        token = create_access_token(Principal(subject_id=world["driver_id"], role="driver"))
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=32),
        )
        wait_until(lambda: _up(client), 30, "the API")
        finished = Finished(db_url)
        ctx: dict[str, Any] = {
            "world": world,
            "sessions": sessions,
            "client": client,
            "finished": finished,
        }

        if args.scenario in ("latency", "all"):
            prefix = f"bench{tag}/lockers"
            run_fleet(
                procs,
                args,
                prefix=prefix,
                mqtt_url=args.mqtt_url,
                sessions=sessions,
                stats=workdir / "fleet-latency.json",
            )
            pool = (
                world["parcels"]["A1"]
                + world["parcels"]["A2"]
                + world["parcels"]["F1"][args.deposits :]
                + world["parcels"]["R1"][args.deposits :]
            )
            per_run = args.warmup + args.requests
            runs = []
            for index, via in enumerate(args.via.split(",")):
                runs.append(latency(args, ctx, via, pool[index * per_run : (index + 1) * per_run]))
                print(json.dumps(runs[-1], indent=2))
            results["latency"] = runs
            results["latency_fleet"] = stop_fleet(procs, workdir / "fleet-latency.json")

        if args.scenario in ("restart", "all"):
            codes = [f"bench-{i:04d}" for i in range(args.banks)]
            from lockers.credentials import write_password_file

            passwd = workdir / "passwd"
            write_password_file(
                passwd,
                [("pickup-bridge", "bench-bridge")] + [(c, locker_password(c)) for c in codes],
            )
            broker = mosquitto.MosquittoProcess(
                workdir / "mosquitto", acl=mosquitto.acl_text("lockers"), password_file=passwd
            )
            broker.start()
            ctx["broker"] = broker
            url = f"mqtt://pickup-bridge:bench-bridge@127.0.0.1:{broker.port}"
            run_fleet(
                procs,
                args,
                prefix="lockers",
                mqtt_url=url,
                sessions=sessions,
                stats=workdir / "fleet-restart.json",
                fleet_url=f"mqtt://127.0.0.1:{broker.port}",
                credentials=True,
            )
            n = args.deposits
            f1, r1 = world["parcels"]["F1"], world["parcels"]["R1"]
            results["restart"] = [
                restart(args, ctx, kill=False, parcel_ids=f1[:n]),
                restart(args, ctx, kill=True, parcel_ids=r1[:n]),
            ]
            fleet = stop_fleet(procs, workdir / "fleet-restart.json")
            for run in results["restart"]:
                run["fleet_commands_executed_twice"] = fleet.get("commands_executed_twice")
            results["restart_fleet"] = fleet
            print(json.dumps(results["restart"], indent=2))
            broker.stop()
    finally:
        if finished is not None:
            finished.close()
        procs.stop_all()
        engine.dispose()
        drop_database(db_url)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


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


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(load[0], 2),
        "python": sys.version.split()[0],
        "mosquitto": subprocess.run(
            ["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True
        ).stdout.splitlines()[0],
    }


if __name__ == "__main__":
    main()
