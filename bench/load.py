"""The rush (issue 16): residents ordering, reading the catalog and polling their group's
progress at once, against `pickup serve --workers N` on the 600-neighborhood city on PostgreSQL.

    .venv/bin/python bench/load.py [--workers 2] [--users 20 --users 50 ...] [--seconds 25]
                                   [--write FILE]

Seeds the city in its own database (`pickup seed city`, 600 neighborhoods, 130,000 residents)
unless it is there already, runs ANALYZE, mints residents' tokens, starts the API as in
production (no bridge, no clockwork in the API: MQTT_URL and CELERY_BROKER_URL name real
services, which the API itself never calls), and plays the mix from 2 processes of threads
(one keep-alive connection per user): each user places an order, reads the catalog, polls a
group buy's progress (the share preview) and calls `/healthz`, in turn, with no think time.
Then each alone: `/healthz` (the ceiling), the catalog and order placement. 503s are counted apart
from errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-load-secret-key-long-enough-0123456789")
os.environ.setdefault("ENVIRONMENT", "development")

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_DB = "pickup_load"
ENDPOINTS = ("order", "catalog", "progress", "healthz")
CLIENT_PROCESSES = 2


@dataclass
class User:
    token: str
    window_id: int
    group_buys: list[int]
    share_tokens: list[str]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    refused: int = 0  # 4xx: a group's stock ran out, ...
    busy: int = 0  # 503 + Retry-After: beyond capacity
    errors: int = 0  # 5xx other than 503, dropped connections


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def ensure_city(name: str, neighborhoods: int, residents: int) -> None:
    """Create, migrate and seed the database unless a seeded city is there; then ANALYZE."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            c.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": database_url(name)}
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as c:
        seeded = c.execute("SELECT to_regclass('neighborhoods')").fetchone()
        present = seeded is not None and seeded[0] is not None
        row = c.execute("SELECT count(*) FROM neighborhoods").fetchone() if present else None
    if row is None or row[0] < neighborhoods:
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, cwd=ROOT)
        started = time.monotonic()
        subprocess.run(
            [*cli, "seed", "city", "--neighborhoods", str(neighborhoods)]
            + ["--residents", str(residents)],
            env=env,
            check=True,
            cwd=ROOT,
        )
        print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}", autocommit=True) as c:
        c.execute("ANALYZE")


def pick_users(name: str, count: int, seed: int) -> list[User]:
    """`count` residents, each with the open group buys of their neighborhood's first open
    window (cut-off at least an hour away) and a token."""
    import psycopg

    from app.core.security import Principal, create_access_token

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={name}") as c:
        rows = c.execute(
            """
            SELECT g.neighborhood_id, g.window_id, g.id, g.share_token
            FROM group_buys g JOIN delivery_windows w ON w.id = g.window_id
            WHERE g.status IN ('OPEN', 'open')
              AND w.status IN ('OPEN', 'open') AND w.cutoff_at > now() + interval '1 hour'
            ORDER BY g.neighborhood_id, w.cutoff_at, g.id
            """
        ).fetchall()
        windows: dict[int, int] = {}
        buys: dict[int, list[tuple[int, str]]] = {}
        for hood, window, buy, share in rows:
            if windows.setdefault(hood, window) == window:
                buys.setdefault(hood, []).append((buy, share))
        hoods = sorted(buys)
        random.Random(seed).shuffle(hoods)
        people = c.execute(
            "SELECT DISTINCT ON (neighborhood_id) id, neighborhood_id FROM residents "
            "WHERE active AND neighborhood_id = ANY(%s) ORDER BY neighborhood_id, id",
            (hoods[:count],),
        ).fetchall()
    users = []
    for resident_id, hood in people:
        token = create_access_token(Principal(subject_id=resident_id, role="resident"))
        pairs = buys[hood]
        users.append(User(token, windows[hood], [b for b, _ in pairs], [s for _, s in pairs]))
    if len(users) < count:
        raise SystemExit(f"only {len(users)} neighborhoods with open group buys")
    return users


def request(user: User, what: str, conn: http.client.HTTPConnection) -> int:
    headers = {"Authorization": f"Bearer {user.token}"}
    if what == "order":
        body = {
            "window_id": user.window_id,
            "lines": [{"group_buy_id": random.choice(user.group_buys), "quantity": 1}],
        }
        headers |= {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        conn.request("POST", "/orders", body=json.dumps(body), headers=headers)
    elif what == "catalog":
        conn.request("GET", f"/catalog?window_id={user.window_id}", headers=headers)
    elif what == "progress":
        conn.request("GET", f"/share/{random.choice(user.share_tokens)}", headers=headers)
    else:
        conn.request("GET", "/healthz")
    answer = conn.getresponse()
    answer.read()
    return answer.status


def play(
    port: int,
    users: list[User],
    mix: tuple[str, ...],
    seconds: float,
    out: mp.Queue[dict[str, dict[str, Any]]],
) -> None:
    """One client process: a thread per user, in turn through `mix`, until the time is up."""
    tallies = {what: Tally() for what in ENDPOINTS}
    lock = threading.Lock()
    start = time.monotonic() + 1.0
    stop = start + seconds

    def user_loop(user: User, offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        turn = offset
        while time.monotonic() < start:
            time.sleep(0.01)
        while time.monotonic() < stop:
            what = mix[turn % len(mix)]
            turn += 1
            began = time.perf_counter()
            try:
                status = request(user, what, conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            took = time.perf_counter() - began
            with lock:
                tally = tallies[what]
                if status == 503:
                    tally.busy += 1
                elif status == 0 or status >= 500:
                    tally.errors += 1
                else:
                    tally.latencies.append(took)
                    if status >= 400:
                        tally.refused += 1
                    else:
                        tally.ok += 1
            if status == 503:
                time.sleep(1.0)  # Retry-After
        conn.close()

    threads = [threading.Thread(target=user_loop, args=(u, i)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put({k: vars(v) for k, v in tallies.items()})


@dataclass
class Level:
    seconds: float
    tallies: dict[str, Tally]


def run_level(port: int, users: list[User], mix: tuple[str, ...], seconds: float) -> Level:
    """Every endpoint's tally over `seconds` with `len(users)` users in 2 client processes."""
    queue: mp.Queue[dict[str, dict[str, Any]]] = mp.Queue()
    parts = [users[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    procs = [mp.Process(target=play, args=(port, p, mix, seconds, queue)) for p in parts]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    merged = {what: Tally() for what in mix}
    for result in results:
        for what in mix:
            t, r = merged[what], result[what]
            t.latencies += r["latencies"]
            t.ok += r["ok"]
            t.refused += r["refused"]
            t.busy += r["busy"]
            t.errors += r["errors"]
    return Level(seconds, merged)


def start_server(name: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    from lockers.broker import free_port

    env = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "MQTT_URL": "mqtt://127.0.0.1:1883",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--mqtt-port", str(free_port())]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-load-serve.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                time.sleep(5 if workers > 1 else 0)  # the other workers finish starting
                return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the API did not start; see bench-load-serve.log")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


def table(rows: list[tuple[str, int, Level]]) -> str:
    lines = [
        "| Phase | Users | Endpoint | Answered/s | p50 ms | p95 ms | p99 ms | 2xx | 4xx | "
        "503 | Errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, users, level in rows:
        for what, t in level.tallies.items():
            rate = (t.ok + t.refused) / level.seconds
            lines.append(
                f"| {phase} | {users} | {what} | {rate:.0f} | {percentile(t.latencies, 0.5):.0f}"
                f" | {percentile(t.latencies, 0.95):.0f} | {percentile(t.latencies, 0.99):.0f}"
                f" | {t.ok} | {t.refused} | {t.busy} | {t.errors} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--neighborhoods", type=int, default=600)
    parser.add_argument("--residents", type=int, default=130_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=25)
    parser.add_argument("--ceiling-users", type=int, default=50)
    parser.add_argument("--ceiling-seconds", type=float, default=15)
    parser.add_argument("--port", type=int, default=18470)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    levels = args.users or [20, 50, 100, 200]

    ensure_city(args.database, args.neighborhoods, args.residents)
    users = pick_users(args.database, max(*levels, args.ceiling_users), seed=16)
    load_before = os.getloadavg()
    server = start_server(args.database, args.port, args.workers)
    rows: list[tuple[str, int, Level]] = []
    try:
        run_level(args.port, users[: levels[0]], ENDPOINTS, 5)  # warm-up, not counted
        for count in levels:
            level = run_level(args.port, users[:count], ENDPOINTS, args.seconds)
            rows.append(("mix", count, level))
            print(table(rows[-1:]), flush=True)
        for what in ("healthz", "catalog", "order"):
            level = run_level(args.port, users[: args.ceiling_users], (what,), args.ceiling_seconds)
            rows.append((f"{what} alone", args.ceiling_users, level))
            print(table(rows[-1:]), flush=True)
    finally:
        server.terminate()
        server.wait(30)
    load_after = os.getloadavg()
    report = (
        f"{args.workers} workers, {args.seconds:.0f} s per level, 2 client processes on the same "
        f"2 cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after\n\n"
        + table(rows)
    )
    print(report)
    if args.write:
        args.write.write_text(report + "\n")


if __name__ == "__main__":
    main()
