"""solve(): prechecks, parallel searches in worker processes, and the Result."""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

from logistics.solver import decompose, diagnose, search
from logistics.solver.model import SCALE, Data, build_data, weights
from logistics.solver.problem import Problem
from logistics.solver.result import Result, Route, Unassigned
from logistics.solver.schedule import timed_route

StopRoutes = list[list[int]]
"""Indices into problem.stops served by each vehicle, in order."""


@dataclass(frozen=True)
class Improvement:
    """The best solution so far, as reported to on_improvement."""

    objective: int
    unassigned: int
    vehicles: int | None
    cost: float
    elapsed_s: float


class _Best:
    """The best objective seen across workers; reports improvements to a callback."""

    def __init__(
        self,
        started: float,
        decode: Callable[[int], tuple[int, int | None, float]],
        callback: Callable[[Improvement], None] | None,
        inbox: Queue[int] | None,
    ) -> None:
        self.started, self.decode, self.callback, self.inbox = started, decode, callback, inbox
        self.objective: int | None = None
        self.finished: list[tuple[StopRoutes, int] | None] = []

    def offer(self, objective: int) -> None:
        """Take a worker's new solution value; report it when it beats the best."""
        self.drain()
        self._take(objective)

    def drain(self, timeout: float | None = None) -> None:
        """Take what other workers sent: improvements, or final results (kept in finished)."""
        while self.inbox is not None:
            try:
                message = self.inbox.get(timeout=timeout) if timeout else self.inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(message, tuple):
                self.finished.append(message[1])
            else:
                self._take(message)
            if timeout:
                return

    def _take(self, objective: int) -> None:
        if self.objective is not None and objective >= self.objective:
            return
        self.objective = objective
        if self.callback is not None:
            unassigned, vehicles, cost = self.decode(objective)
            elapsed = time.monotonic() - self.started
            self.callback(Improvement(objective, unassigned, vehicles, cost, elapsed))


def _search(
    problem: Problem, stops: tuple[int, ...], worker: int, deadline: float, report: Any
) -> tuple[StopRoutes, int] | None:
    """One worker's search over the given stops; routes as stop indices."""
    data = build_data(problem, stops)
    strategy = search.STRATEGIES[worker % len(search.STRATEGIES)]
    found = search.run(data, strategy, deadline, report)
    if found is None:
        return None
    routes, objective = found
    return [[data.stop_of(node) for node in route] for route in routes], objective


def _child(
    problem: Problem, stops: tuple[int, ...], worker: int, deadline: float, outbox: Queue[Any]
) -> None:
    """Entry point of a worker process: search, stream improvements, send the result last."""
    best: list[int] = []

    def report(objective: int) -> None:
        if not best or objective < best[-1]:
            best.append(objective)
            outbox.put(objective)

    outbox.put(("done", _search(problem, stops, worker, deadline, report)))


def _workers(requested: int | None) -> int:
    """How many parallel searches to run: one per core, two at most by default."""
    if multiprocessing.current_process().daemon:
        return 1  # daemonic processes (e.g. Celery prefork workers) may not have children
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, requested if requested is not None else min(2, cores or 1))


def _shuffled(indices: list[int], seed: int) -> tuple[int, ...]:
    """The stop order given to a worker: a seed-dependent permutation (seed 0: as given)."""
    if seed:
        random.Random(seed).shuffle(indices)
    return tuple(indices)


def solve(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    on_improvement: Callable[[Improvement], None] | None = None,
    workers: int | None = None,
) -> Result:
    """Route the problem's stops within the time limit; unservable stops come back with why."""
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, got {time_limit_s}")
    started = time.monotonic()
    deadline = started + time_limit_s
    rejected = diagnose.precheck(build_data(problem, tuple(range(len(problem.stops)))))
    routable = [i for i in range(len(problem.stops)) if i not in rejected]
    unassigned = [Unassigned(problem.stops[i].id, reason) for i, reason in rejected.items()]
    if not routable:
        return Result((), tuple(unassigned), 0, time.monotonic() - started)

    n_workers = _workers(workers)
    if len(routable) > decompose.DECOMPOSE_ABOVE:
        return _decomposed(
            problem, routable, unassigned, n_workers, started, deadline, on_improvement
        )
    # fork: workers need no re-import of the caller's __main__ (spawn would re-run scripts
    # without a main guard); they only search and write to the queue.
    if "fork" in multiprocessing.get_all_start_methods():
        context: Any = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("spawn")
    outbox: Queue[Any] = context.Queue()
    children = [
        context.Process(
            target=_child,
            args=(problem, _shuffled(list(routable), seed + k), k, deadline, outbox),
            daemon=True,
        )
        for k in range(1, n_workers)
    ]
    for child in children:
        child.start()

    data = build_data(problem, _shuffled(list(routable), seed))
    best = _Best(started, _decoder(data), on_improvement, outbox if children else None)
    results = [_search(problem, data.stop_indices, 0, deadline, best.offer)]
    results.extend(_collect(best, len(children), deadline))
    for child in children:
        child.join(timeout=1.0)
        if child.is_alive():
            child.kill()

    found = [r for r in results if r is not None]
    if not found:
        raise RuntimeError("the routing search found no solution at all")
    routes, objective = min(found, key=lambda r: r[1])
    return _result(data, routes, objective, unassigned, time.monotonic() - started)


def _decomposed(
    problem: Problem,
    routable: list[int],
    unassigned: list[Unassigned],
    n_workers: int,
    started: float,
    deadline: float,
    on_improvement: Callable[[Improvement], None] | None,
) -> Result:
    """A large problem: decomposed into sectors (decompose.py) rather than parallel searches."""
    data = build_data(problem, tuple(routable))
    best = _Best(started, _decoder(data), on_improvement, None)
    if "fork" not in multiprocessing.get_all_start_methods():
        n_workers = 1
    found = decompose.run(data, deadline, n_workers, best.offer)
    if found is None:
        raise RuntimeError("the routing search found no solution at all")
    routes = [[data.stop_of(node) for node in route] for route in found[0]]
    return _result(data, routes, found[1], unassigned, time.monotonic() - started)


def _collect(best: _Best, count: int, deadline: float) -> list[tuple[StopRoutes, int] | None]:
    """Wait for the child workers' final results, passing on their progress meanwhile."""
    while len(best.finished) < count:
        remaining = deadline + 10.0 - time.monotonic()
        if remaining <= 0:
            break  # a worker died or hung: keep what the others found
        best.drain(timeout=remaining)
    return best.finished


def _decoder(data: Data) -> Callable[[int], tuple[int, int | None, float]]:
    """Split an objective value into (unassigned stops, vans, remaining cost)."""
    weight = weights(data)

    def decode(objective: int) -> tuple[int, int | None, float]:
        dropped, rest = divmod(objective, weight.unassigned)
        if not weight.van:
            return dropped, None, rest / SCALE
        vans, cost = divmod(rest, weight.van)
        return dropped, vans, cost / SCALE

    return decode


def _result(
    data: Data,
    routes: StopRoutes,
    objective: int,
    unassigned: list[Unassigned],
    runtime_s: float,
) -> Result:
    """The Result of the best routes: timed routes and a reason for each left-out stop."""
    problem = data.problem
    timed: list[Route] = [
        timed_route(problem, vehicle, stops) for vehicle, stops in enumerate(routes) if stops
    ]
    used = {vehicle for vehicle, stops in enumerate(routes) if stops}
    served = {i for stops in routes for i in stops}
    for node in range(data.num_depots, len(data.location)):
        if data.stop_of(node) not in served:
            reason = diagnose.after_search(data, node, used)
            unassigned.append(Unassigned(problem.stops[data.stop_of(node)].id, reason))
    return Result(tuple(timed), tuple(unassigned), objective, runtime_s)
