"""Server CPU per request of `/healthz`, `GET /me`, the warm catalog, the share preview and
an order (issue 16).

    .venv/bin/python bench/request_cost.py [--database pickup_load] [--requests 400]
                                           [--rounds 5] [--port 18490]

Uses a city seeded by `bench/load.py` (same database names), starts `pickup serve` with one
worker as `bench/load.py` does, and sends each endpoint `--requests` times from one keep-alive
client, in turn, `--rounds` times. The order is one line of quantity 1 in a group buy of the
resident's with no stock cap, a fresh Idempotency-Key each (201 every time). The figure is the
server process's CPU (user + system, `/proc/<pid>/stat`) over those requests divided by their
number, so the client's own CPU and the machine's other load count only as noise, not as cost;
the minimum over the rounds is the least disturbed figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def uncapped_group_buy(database: str, user: load.User) -> int:
    """One of the user's group buys without a stock cap (every order of the bench goes through)."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as c:
        row = c.execute(
            "SELECT id FROM group_buys WHERE id = ANY(%s) AND stock_cap IS NULL ORDER BY id",
            (user.group_buys,),
        ).fetchone()
    if row is None:
        raise SystemExit("the bench's resident has no group buy without a stock cap")
    return int(row[0])


Send = Callable[[http.client.HTTPConnection], None]


def senders(user: load.User, group_buy_id: int) -> dict[str, Send]:
    auth = {"Authorization": f"Bearer {user.token}"}

    def get(path: str, headers: dict[str, str]) -> Send:
        return lambda conn: conn.request("GET", path, headers=headers)

    def order(conn: http.client.HTTPConnection) -> None:
        body = {
            "window_id": user.window_id,
            "lines": [{"group_buy_id": group_buy_id, "quantity": 1}],
        }
        headers = auth | {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        conn.request("POST", "/orders", body=json.dumps(body), headers=headers)

    return {
        "healthz": get("/healthz", {}),
        "me": get("/me", auth),
        "catalog": get(f"/catalog?window_id={user.window_id}", auth),
        "share": get(f"/share/{user.share_tokens[0]}", auth),
        "order": order,
    }


def measure(pid: int, port: int, send: Send, count: int) -> float:
    """Server CPU ms per request over `count` requests on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(20):  # warm: the connection, the caches
        send(conn)
        conn.getresponse().read()
    before = cpu_seconds(pid)
    for _ in range(count):
        send(conn)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status not in (200, 201):
            raise SystemExit(f"answered {answer.status}: {body[:300]!r}")
    spent = cpu_seconds(pid) - before
    conn.close()
    return spent * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=load.DEFAULT_DB)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=18490)
    args = parser.parse_args()
    user = load.pick_users(args.database, 1, seed=16)[0]
    sends = senders(user, uncapped_group_buy(args.database, user))
    server = load.start_server(args.database, args.port, 1)
    try:
        time.sleep(1)
        rounds: dict[str, list[float]] = {what: [] for what in sends}
        for round_ in range(args.rounds):
            load_avg = os.getloadavg()[0]
            for what, send in sends.items():
                rounds[what].append(measure(server.pid, args.port, send, args.requests))
            shown = ", ".join(f"{what} {ms[-1]:.2f} ms" for what, ms in rounds.items())
            print(f"round {round_ + 1} (load {load_avg:.1f}): {shown}", flush=True)
        shown = ", ".join(
            f"{what} {min(ms):.2f} / {statistics.median(ms):.2f} ms" for what, ms in rounds.items()
        )
        print(f"min / median of {args.rounds} rounds: {shown}", flush=True)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
