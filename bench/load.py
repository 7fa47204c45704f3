"""The rush (issue 16): residents ordering, reading the catalog and polling their group's
progress at once, against `pickup serve --workers N` on the 600-neighborhood city on PostgreSQL.

    .venv/bin/python bench/load.py [--workers 2] [--users 20 --users 50 ...] [--seconds 25]
                                   [--write FILE]

Seeds the city in its own database (`pickup seed city`, 600 neighborhoods, 130,000 residents)
unless it is there already, runs ANALYZE, mints residents' tokens, starts the API as in
production (no bridge, no clockwork in the API: MQTT_URL and CELERY_BROKER_URL name real
services, which the API itself never calls), and plays the mix from 2 client processes
(`bench/load_client.py`: asyncio, one raw keep-alive connection per user, request bytes built
beforehand): each user places an order, reads the catalog, polls a group buy's progress (the
share preview) and calls `/healthz`, in turn, with no think time. Then each alone: `/healthz`
(the ceiling), the catalog, and order placement at each of `--order-users`, with the highest
of those at which order placement's p99 stays under 250 ms. 503s are counted apart from
errors. Each phase also shows the server's CPU (its processes, from /proc) and the clients'
CPU per answered request: both share the machine's cores.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-load-secret-key-long-enough-0123456789")
os.environ.setdefault("ENVIRONMENT", "development")

from load_client import ENDPOINTS, Tally, User, play  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_DB = "pickup_load"
CLIENT_PROCESSES = 2
ORDER_P99_TARGET_MS = 250
TICKS = os.sysconf("SC_CLK_TCK")


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


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU so far of the process and its children (the API's workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


@dataclass
class Level:
    seconds: float
    tallies: dict[str, Tally]
    server_cpu: float = 0.0  # seconds, the API's processes over the level
    client_cpu: float = 0.0  # seconds, the client processes

    @property
    def answered(self) -> int:
        return sum(t.ok + t.refused for t in self.tallies.values())


def run_level(
    port: int, users: list[User], mix: tuple[str, ...], seconds: float, server_pid: int = 0
) -> Level:
    """Every endpoint's tally over `seconds` with `len(users)` users in 2 client processes,
    with the server's and the clients' CPU over that time."""
    queue: mp.Queue[dict[str, Any]] = mp.Queue()
    parts = [users[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    start = time.time() + 1.0  # every process connected and waiting
    procs = [mp.Process(target=play, args=(port, p, mix, start, seconds, queue)) for p in parts]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start - time.time()))
    server_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    results = [queue.get() for _ in procs]
    server_cpu = tree_cpu_seconds(server_pid) - server_before if server_pid else 0.0
    for proc in procs:
        proc.join()
    merged = {what: Tally() for what in mix}
    client_cpu = sum(result["cpu"] for result in results)
    for result in results:
        for what in mix:
            t, r = merged[what], result["tallies"][what]
            t.latencies += r["latencies"]
            t.ok += r["ok"]
            t.refused += r["refused"]
            t.busy += r["busy"]
            t.errors += r["errors"]
    return Level(seconds, merged, server_cpu, client_cpu)


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
        "503 | Errors | Server CPU ms/answer | Client CPU ms/answer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, users, level in rows:
        answered = max(level.answered, 1)
        server = f"{level.server_cpu * 1000 / answered:.2f}"
        client = f"{level.client_cpu * 1000 / answered:.2f}"
        for what, t in level.tallies.items():
            rate = (t.ok + t.refused) / level.seconds
            lines.append(
                f"| {phase} | {users} | {what} | {rate:.0f} | {percentile(t.latencies, 0.5):.0f}"
                f" | {percentile(t.latencies, 0.95):.0f} | {percentile(t.latencies, 0.99):.0f}"
                f" | {t.ok} | {t.refused} | {t.busy} | {t.errors} | {server} | {client} |"
            )
    return "\n".join(lines)


def order_verdict(rows: list[tuple[str, int, Level]]) -> str:
    """At which concurrency order placement alone keeps p99 under the target."""
    alone = [(u, lv.tallies["order"], lv) for phase, u, lv in rows if phase == "order alone"]
    shown = []
    meeting = [u for u, t, _ in alone if percentile(t.latencies, 0.99) < ORDER_P99_TARGET_MS]
    for users, tally, level in alone:
        rate = (tally.ok + tally.refused) / level.seconds
        p99 = percentile(tally.latencies, 0.99)
        mark = "meets" if p99 < ORDER_P99_TARGET_MS else "misses"
        shown.append(f"{users} users: {rate:.0f}/s, p99 {p99:.0f} ms ({mark})")
    # Above the highest concurrency that meets it, more users only queue longer.
    best = f"up to {max(meeting)} users" if meeting else "at none of these concurrencies"
    return (
        f"Order placement alone, p99 < {ORDER_P99_TARGET_MS} ms {best}: "
        + "; ".join(shown)
        + " (closed loop: latency ~ users / throughput)"
    )


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
    parser.add_argument("--order-users", type=int, action="append")
    parser.add_argument("--port", type=int, default=18470)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    levels = args.users or [20, 50, 100, 200]
    order_levels = args.order_users or [10, 20, args.ceiling_users]

    ensure_city(args.database, args.neighborhoods, args.residents)
    users = pick_users(args.database, max(*levels, *order_levels, args.ceiling_users), seed=16)
    load_before = os.getloadavg()
    server = start_server(args.database, args.port, args.workers)
    rows: list[tuple[str, int, Level]] = []

    def measure(phase: str, count: int, mix: tuple[str, ...], seconds: float) -> None:
        rows.append((phase, count, run_level(args.port, users[:count], mix, seconds, server.pid)))
        print(table(rows[-1:]), flush=True)

    try:
        run_level(args.port, users[: levels[0]], ENDPOINTS, 5)  # warm-up, not counted
        for count in levels:
            measure("mix", count, ENDPOINTS, args.seconds)
        for what in ("healthz", "catalog"):
            measure(f"{what} alone", args.ceiling_users, (what,), args.ceiling_seconds)
        for count in order_levels:
            measure("order alone", count, ("order",), args.ceiling_seconds)
    finally:
        server.terminate()
        server.wait(30)
    load_after = os.getloadavg()
    report = (
        f"{args.workers} workers, {args.seconds:.0f} s per level, {CLIENT_PROCESSES} client "
        f"processes on the same cores; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after\n\n" + table(rows) + "\n\n" + order_verdict(rows)
    )
    print(report)
    if args.write:
        args.write.write_text(report + "\n")


if __name__ == "__main__":
    main()
