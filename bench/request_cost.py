"""Server CPU per request of `/healthz`, `GET /me` and the warm catalog (issue 16).

    .venv/bin/python bench/request_cost.py [--database pickup_load] [--requests 400]
                                           [--rounds 5] [--port 18490]

Uses a city seeded by `bench/load.py` (same database names), starts `pickup serve` with one
worker as `bench/load.py` does, and sends each endpoint `--requests` times from one keep-alive
client, in turn, `--rounds` times. The figure is the server process's CPU (user + system,
`/proc/<pid>/stat`) over those requests divided by their number, so the client's own CPU and
the machine's other load count only as noise, not as cost; the minimum over the rounds is the
least disturbed figure.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def paths(user: load.User) -> dict[str, tuple[str, dict[str, str]]]:
    auth = {"Authorization": f"Bearer {user.token}"}
    return {
        "healthz": ("/healthz", {}),
        "me": ("/me", auth),
        "catalog": (f"/catalog?window_id={user.window_id}", auth),
    }


def measure(pid: int, port: int, path: str, headers: dict[str, str], count: int) -> float:
    """Server CPU ms per request over `count` requests on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(20):  # warm: the connection, the caches
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
    before = cpu_seconds(pid)
    for _ in range(count):
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"{path} answered {answer.status}")
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
    server = load.start_server(args.database, args.port, 1)
    try:
        time.sleep(1)
        rounds: dict[str, list[float]] = {what: [] for what in paths(user)}
        for round_ in range(args.rounds):
            load_avg = os.getloadavg()[0]
            for what, (path, headers) in paths(user).items():
                rounds[what].append(measure(server.pid, args.port, path, headers, args.requests))
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
