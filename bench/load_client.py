"""The load generator's client side for `bench/load.py`: closed-loop users on raw keep-alive
HTTP/1.1 connections, each process one asyncio loop (uvloop when installed), every request's
bytes built before the clock starts (an order's Idempotency-Key is the only part made per
request). A user sends one request, reads the whole answer (Content-Length or chunked), then
sends the next: no think time. Each process reports its tallies and its own CPU time.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("order", "catalog", "progress", "healthz")
HOST = "127.0.0.1"


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


class Requests:
    """One user's requests as bytes: `next(what)` gives the bytes of the next one."""

    def __init__(self, user: User) -> None:
        host = f"Host: {HOST}\r\n".encode()
        auth = f"Authorization: Bearer {user.token}\r\n".encode()
        self.fixed = {
            "catalog": b"GET /catalog?window_id=%d HTTP/1.1\r\n" % user.window_id
            + host
            + auth
            + b"\r\n",
            "healthz": b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n",
        }
        self.progress = [
            f"GET /share/{share} HTTP/1.1\r\n".encode() + host + auth + b"\r\n"
            for share in user.share_tokens
        ]
        self.orders = []
        for group_buy in user.group_buys:
            body = json.dumps(
                {"window_id": user.window_id, "lines": [{"group_buy_id": group_buy, "quantity": 1}]}
            ).encode()
            head = (
                b"POST /orders HTTP/1.1\r\n"
                + host
                + auth
                + b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
                + b"Idempotency-Key: "
            )
            self.orders.append((head, b"\r\n\r\n" + body))

    def next(self, what: str) -> bytes:
        if what == "order":
            head, tail = random.choice(self.orders)
            return head + uuid.uuid4().hex.encode() + tail
        if what == "progress":
            return random.choice(self.progress)
        return self.fixed[what]


async def read_answer(reader: asyncio.StreamReader) -> int:
    """The status of the next answer on the connection, its body read to the end."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def user_loop(
    port: int,
    requests: Requests,
    mix: tuple[str, ...],
    offset: int,
    start: float,
    stop: float,
    tallies: dict[str, Tally],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    await asyncio.sleep(max(0.0, start - time.time()))
    turn = offset
    while time.time() < stop:
        what = mix[turn % len(mix)]
        turn += 1
        began = time.perf_counter()
        try:
            writer.write(requests.next(what))
            status = await read_answer(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status = 0
            writer.close()
            reader, writer = await asyncio.open_connection(HOST, port)
        took = time.perf_counter() - began
        tally = tallies[what]
        if status == 503:
            tally.busy += 1
            await asyncio.sleep(1.0)  # Retry-After
        elif status == 0 or status >= 500:
            tally.errors += 1
        else:
            tally.latencies.append(took)
            if status >= 400:
                tally.refused += 1
            else:
                tally.ok += 1
    writer.close()


def play(
    port: int,
    users: list[User],
    mix: tuple[str, ...],
    start: float,
    seconds: float,
    out: mp.Queue[dict[str, Any]],
) -> None:
    """One client process: its users, each on its own connection, from `start` (wall clock)
    for `seconds`; puts the tallies and the process's CPU seconds on `out`."""
    tallies = {what: Tally() for what in ENDPOINTS}
    requests = [Requests(user) for user in users]

    async def main() -> None:
        await asyncio.gather(
            *(
                user_loop(port, r, mix, i, start, start + seconds, tallies)
                for i, r in enumerate(requests)
            )
        )

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    cpu_before = time.process_time()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
    cpu = time.process_time() - cpu_before
    out.put({"tallies": {k: vars(v) for k, v in tallies.items()}, "cpu": cpu})
