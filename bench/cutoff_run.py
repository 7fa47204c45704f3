"""One database's run of the cut-off benchmark: migrate, seed, time `run_cutoff` step by step,
then check the stored plan (every stop served or reported, the cold chain within the limit)."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cutoff_city import build
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app import dbtools
from app.core.db import make_engine
from app.core.enums import TemperatureClass
from app.schema import load_all_models
from logistics.cutoff_steps import STEPS
from logistics.models import Parcel, ParcelStatus, Route, RouteStop, UnassignedStop
from logistics.pipeline import run_cutoff
from logistics.settings import LogisticsSettings

console = Console(stderr=True)

COLD = (TemperatureClass.CHILLED, TemperatureClass.FROZEN)


@dataclass
class Outcome:
    """One database's run."""

    database: str
    seed_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0
    status: str = ""
    orders_confirmed: int = 0
    parcels: int = 0
    reserved: int = 0
    unplaced: int = 0
    overflowed: int = 0
    stops: int = 0
    stops_served: int = 0
    stops_unassigned: int = 0
    unassigned_reasons: dict[str, int] = field(default_factory=dict)
    routes: int = 0
    vans_available: int = 0
    distance_km: float = 0.0
    solver_s: float = 0.0
    cold_max_min: float = 0.0
    check: str = ""
    load_before: str = ""


def run_one(database: str, url: str, args: argparse.Namespace) -> Outcome:
    """Migrate, seed, and time the pipeline on one database."""
    outcome = Outcome(database=database)
    outcome.load_before = load_averages()
    load_all_models()
    dbtools.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = datetime.now(UTC).replace(microsecond=0)
    console.print(f"[bold]{database}[/bold]: seeding {args.neighborhoods} neighborhoods ...")
    started = time.perf_counter()
    with factory() as session:
        window_id = build(session, args, now)
        session.commit()
    outcome.seed_s = time.perf_counter() - started
    settings = LogisticsSettings(
        solver_time_limit_s=args.time_limit,
        cold_chain_minutes=args.cold_chain_minutes,
        solver_workers=args.workers,
    )
    columns = (
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks = {name: bar.add_task(name, total=None, start=False) for name in STEPS}

        def on_event(step: str, phase: str, done: int, total: int) -> None:
            task = tasks[step]
            if phase == "start":
                bar.start_task(task)
            elif phase == "progress" and total:
                bar.update(task, completed=done, total=total)
            elif phase in ("done", "skipped", "failed"):
                bar.update(task, total=1, completed=1)
                bar.stop_task(task)

        clock = time.perf_counter()
        report = run_cutoff(
            session_factory=factory,
            window_id=window_id,
            settings=settings,
            on_event=on_event,
            now=now + timedelta(seconds=1),
        )
        outcome.total_s = time.perf_counter() - clock
    outcome.status = report.status
    if report.error:
        console.print(f"[red]{report.error}[/red]")
    for step in report.steps:
        outcome.steps[step.name] = step.duration_s or 0.0
    detail = {s.name: s.detail for s in report.steps}
    outcome.orders_confirmed = int(detail["close"].get("orders_confirmed", 0))
    outcome.overflowed = int(detail["reserve"].get("overflowed_now", 0))
    outcome.vans_available = int(detail["route"].get("vehicles_available", 0))
    outcome.solver_s = float(detail["route"].get("solver_runtime_s", 0.0))
    with factory() as session:
        in_window = Parcel.window_id == window_id
        outcome.parcels = (
            session.scalar(select(func.count()).select_from(Parcel).where(in_window)) or 0
        )
        outcome.reserved = (
            session.scalar(
                select(func.count())
                .select_from(Parcel)
                .where(in_window, Parcel.status == ParcelStatus.RESERVED)
            )
            or 0
        )
        outcome.unplaced = outcome.parcels - outcome.reserved
        routes = list(session.scalars(select(Route).where(Route.window_id == window_id)))
        outcome.routes = len(routes)
        outcome.distance_km = sum(r.distance_m for r in routes) / 1000
        outcome.stops_served = (
            session.scalar(
                select(func.count())
                .select_from(RouteStop)
                .join(Route)
                .where(Route.window_id == window_id)
            )
            or 0
        )
        unassigned = list(
            session.scalars(select(UnassignedStop).where(UnassignedStop.window_id == window_id))
        )
        outcome.stops_unassigned = len(unassigned)
        for u in unassigned:
            outcome.unassigned_reasons[u.reason_code] = (
                outcome.unassigned_reasons.get(u.reason_code, 0) + 1
            )
        outcome.stops = int(detail["route"].get("stops", 0))
        # Every reserved parcel is on a route stop or counted in an unassigned stop.
        unrouted = (
            session.scalar(
                select(func.count())
                .select_from(Parcel)
                .where(
                    in_window,
                    Parcel.status == ParcelStatus.RESERVED,
                    Parcel.route_stop_id.is_(None),
                )
            )
            or 0
        )
        reported = sum(u.parcel_count for u in unassigned)
        # The cold chain as stored: departure -> start of service at each van's last stop
        # with a chilled or frozen parcel, against the limit.
        cold_stop_ids = set(
            session.scalars(
                select(Parcel.route_stop_id).where(
                    in_window,
                    Parcel.route_stop_id.is_not(None),
                    Parcel.temperature_class.in_(COLD),
                )
            )
        )
        for route in routes:
            for stop in route.stops:
                if stop.id in cold_stop_ids:
                    elapsed = (stop.planned_start - route.planned_departure).total_seconds()
                    outcome.cold_max_min = max(outcome.cold_max_min, elapsed / 60)
        cold_ok = outcome.cold_max_min <= args.cold_chain_minutes + 1e-6
        ok = (
            outcome.stops == outcome.stops_served + outcome.stops_unassigned
            and unrouted == reported
            and cold_ok
        )
        outcome.check = (
            "every stop served or reported, cold chain within the limit"
            if ok
            else (
                f"MISMATCH: {outcome.stops} stops, {outcome.stops_served} served, "
                f"{outcome.stops_unassigned} reported; {unrouted} unrouted parcels, "
                f"{reported} reported; longest cold chain {outcome.cold_max_min:.1f} min"
            )
        )
    engine.dispose()
    return outcome


def load_averages() -> str:
    """The machine's load averages (1, 5, 15 minutes), where the platform has them."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
