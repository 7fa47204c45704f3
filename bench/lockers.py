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
This module holds the CLI and the report; the parts are `lockers_world.py` (database, city),
`lockers_fleet.py` (processes), `lockers_measure.py` and `lockers_scenarios.py` beside it.

    .venv/bin/python bench/lockers.py                       # both, 1,000 banks
    .venv/bin/python bench/lockers.py --scenario latency --requests 2000 --rate 40
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-" + secrets.token_hex(16)
os.environ["SECRET_KEY"] = SECRET
os.environ.setdefault("ENVIRONMENT", "development")

import httpx  # noqa: E402
from lockers_fleet import BIN, Procs, run_fleet, stop_fleet, wait_until  # noqa: E402
from lockers_measure import Finished  # noqa: E402
from lockers_scenarios import latency, restart  # noqa: E402
from lockers_world import build_world, create_database, drop_database  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402


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
