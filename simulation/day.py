"""One played day: seed a city, start the system on a stack, let residents, drivers and lockers
live through both windows on a simulated clock, then check the invariants.

Two ways to let time pass:
- `speed=None` (the headless day): the clock jumps from one moment something is due to the next,
  and waits, between jumps, until everything set moving has settled (events, SMS, locker
  commands, cut-offs): as fast as the work allows.
- `speed=N` (the demo): the same jumps and settling, paced so that the simulated day never runs
  ahead of N times the wall clock; the clock stops while a cut-off runs, as a depot would hold
  the vans for the plan.
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.core.clock import SimulatedClock, set_clock
from app.core.settings import get_settings
from simulation.api import close_pools
from simulation.probes import (
    compartment_clashes,
    expired_waiting,
    figures,
    latest_waiting_deadline,
)
from simulation.stack import Stack, StackConfig
from simulation.world import LockerFleet, seed_city, seed_demo_city, start_lockers, windows_of_day

log = logging.getLogger(__name__)

MIN_STEP = timedelta(minutes=1)
PACE_STEP_S = 0.5  # a paced day (the demo) moves at least this often in wall seconds
MAX_STEP = timedelta(minutes=10)
# Simulated lockers report their state at least this often in simulated time (their own timer
# counts wall seconds, which a fast day outruns).
HEARTBEAT_EVERY = timedelta(minutes=20)


@dataclass
class DayOptions:
    neighborhoods: int = 20
    orders: int = 500
    seed: int = 7
    speed: float | None = None
    stack: StackConfig = field(default_factory=StackConfig)
    residents: int | None = None
    city_name: str = "Shanghai"
    time_limit_s: float = 10.0
    demo_seed: bool = False  # the demo city (its logins) instead of a sized city
    wall_limit_s: float | None = None
    keep_serving: bool = False  # after the day: keep the system up until Ctrl-C
    on_report: Callable[["DayResult"], None] | None = None  # told the report before that
    on_city: Callable[[dict[str, Any]], None] | None = None  # told once the city is built
    watch_phone: Callable[[str, str], None] | None = None  # (phone, body) of watched phones
    crew_skips: tuple[str, ...] = ()  # driver logins the crew leaves to a person


@dataclass
class DayState:
    """What the live summary shows; updated as the day goes."""

    now: datetime | None = None
    timezone: str = "UTC"
    phase: str = "starting"
    base_url: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class DayResult:
    report: Any
    state: DayState
    stats: Counter[str]
    errors: list[str]
    wall_s: float
    timings: dict[str, float]


Observer = Callable[[DayState], None]


def run_day(options: DayOptions, observe: Observer | None = None) -> DayResult:
    """Play one day end to end; the invariant report is in the result."""
    from simulation.phones import PhoneNetwork

    started = time.monotonic()
    timings: dict[str, float] = {}
    state = DayState()
    notify = observe or (lambda _s: None)
    phones = PhoneNetwork(on_watched=options.watch_phone).start()
    stack = Stack(options.stack)
    clock_file = stack.workdir / "clock.json"
    try:
        extra = {
            **phones.environment(),
            "LOGISTICS_SOLVER_TIME_LIMIT_S": str(options.time_limit_s),
            # The clock jumps up to MAX_STEP at a time and every locker reports after each
            # jump; silence is judged over a simulated hour instead of 90 s.
            "LOCKERS_OFFLINE_AFTER_SECONDS": "3600",
            **_human_timeouts(options.speed),
        }
        env = stack.prepare(extra_env=extra, clock_file=Path(clock_file))
        state.base_url = stack.base_url
        _configure_celery(env)
        stack.migrate()
        start = _day_start(options)
        clock = SimulatedClock(start, speed=1.0, state_path=Path(clock_file))
        set_clock(clock)
        state.phase = "seeding the city"
        notify(state)
        t = time.monotonic()
        city = (
            seed_demo_city()
            if options.demo_seed
            else seed_city(
                name=options.city_name,
                neighborhoods=options.neighborhoods,
                orders=options.orders,
                residents=options.residents,
                seed=options.seed,
            )
        )
        timings["seed"] = time.monotonic() - t
        state.timezone = city["timezone"]
        if city.get("watch"):
            phones.watch(city["watch"])
        for phone in get_settings().sms_console_phones.split(","):
            if phone.strip() not in ("", "*"):
                phones.watch(phone.strip())  # e.g. a browser test's residents
        if options.on_city is not None:
            options.on_city(city)
        stack.start_services(env)
        lockers = start_lockers(stack)
        timings["start"] = time.monotonic() - t - timings["seed"]
        watched = observe is not None
        return _play(
            options, stack, clock, phones, lockers, city, state, notify, watched, started, timings
        )
    finally:
        stack.stop()
        phones.stop()


def _day_start(options: DayOptions) -> datetime:
    """Midnight in the city at the start of tomorrow, wherever the wall clock is."""
    from app.core.settings import get_settings

    zone = ZoneInfo(get_settings().city_timezone)
    tomorrow = (datetime.now(zone) + timedelta(days=1)).date()
    return datetime.combine(tomorrow, datetime.min.time(), zone)


def _configure_celery(env: dict[str, str]) -> None:
    from app.core.celery_app import celery_app

    eager = env["CELERY_BROKER_URL"].startswith("memory://")
    celery_app.conf.update(
        broker_url=env["CELERY_BROKER_URL"],
        result_backend=env.get("CELERY_RESULT_BACKEND"),
        task_always_eager=eager,
    )


def _play(
    options: DayOptions,
    stack: Stack,
    clock: SimulatedClock,
    phones: Any,
    lockers: LockerFleet,
    city: dict[str, Any],
    state: DayState,
    notify: Observer,
    watched: bool,
    started: float,
    timings: dict[str, float],
) -> DayResult:
    from app.core.db import get_sessionmaker
    from simulation.drivers import Crew
    from simulation.invariants import check_day
    from simulation.population import collectors_of_placed_orders, draw_intents
    from simulation.residents import Crowd

    rng = random.Random(options.seed)
    start = clock.now()
    windows = windows_of_day(city["city_id"], start)
    if not windows:
        raise RuntimeError("the seeded city has no delivery window today")
    end = max(w.pickup_deadline for w in windows) + timedelta(hours=1)
    with get_sessionmaker()() as db:
        intents = draw_intents(
            db_session=db,
            city_id=city["city_id"],
            windows=windows,
            orders=options.orders,
            start=start,
            rng=rng,
            spare_phone=city.get("watch"),
        )
        if options.demo_seed:
            intents += collectors_of_placed_orders(
                db_session=db, windows=windows, start=start, rng=rng, spare_phone=city.get("watch")
            )
    crowd = Crowd(stack.base_url, phones, lockers, intents, random.Random(options.seed + 1))
    crew_logins = [login for login in city["drivers"] if login[0] not in options.crew_skips]
    crew = Crew(stack.base_url, crew_logins, lockers, random.Random(options.seed + 2))
    crew.start()
    clashes: list[str] = []
    play_started = time.monotonic()
    try:
        now = clock.now()
        last_heartbeat = now
        pace = Pace(now, time.monotonic())
        while now < end or _still_waiting(now, end, windows):
            if now >= end:
                end = now + MAX_STEP  # an extended pickup: the day goes on until it is settled
            state.now = now
            state.phase = _phase(now, windows)
            clock.pause()  # a cut-off holds the vans: the day waits for the plan
            stack.tick(now)
            clock.resume()
            for _ in range(20):  # the same moment until deposits in flight are done
                crowd.act(now)
                busy = crew.act(now)
                stack.settle(now)
                if not busy:
                    break
            if expired_waiting(now):
                crew.retrieve_expired()
                stack.settle(now)
            clashes += compartment_clashes()
            if watched:  # the live panel's queries, only when someone looks
                state.figures = figures(stack, phones, lockers, crowd, crew, windows)
                notify(state)
            if options.wall_limit_s and time.monotonic() - started > options.wall_limit_s:
                state.notes.append("stopped early: wall-clock limit reached")
                break
            now = _next(options, clock, now, crowd, crew, pace)
            if now - last_heartbeat >= HEARTBEAT_EVERY:
                lockers.heartbeat()
                last_heartbeat = now
        state.phase = "checking the invariants"
        notify(state)
        stack.settle(clock.now())
        with get_sessionmaker()() as db:
            from logistics.settings import get_logistics_settings

            report = check_day(
                db_session=db,
                window_ids=[w.id for w in windows],
                cold_chain_minutes=get_logistics_settings().cold_chain_minutes,
                sms_sent_per_key=phones.fake.accepted_by_key(),
                # The demo city starts with orders of its own, and the person trying the demo
                # may add theirs: only a sized city's orders are all the crowd's.
                orders_placed=None if options.demo_seed else crowd.stats["orders_placed"],
                compartment_clashes=clashes,
                user_errors=crowd.errors + crew.errors,
            )
        timings["play"] = time.monotonic() - play_started
        state.phase = "done"
        state.figures = figures(stack, phones, lockers, crowd, crew, windows)
        notify(state)
        result = DayResult(
            report,
            state,
            crowd.stats + crew.stats,
            crowd.errors + crew.errors,
            time.monotonic() - started,
            timings,
        )
        if options.keep_serving:
            if options.on_report is not None:
                options.on_report(result)
            _serve_on(stack, clock, state, notify, report)
        return result
    finally:
        crowd.close()
        crew.close()
        close_pools()
        lockers.fleet.stop()


def _serve_on(
    stack: Stack, clock: SimulatedClock, state: DayState, notify: Observer, report: Any
) -> None:
    """After the played day: the system stays up on a clock at normal speed until Ctrl-C."""
    clock.set_speed(1.0)
    state.phase = "day over: the system keeps running (Ctrl-C to stop)"
    state.notes.append("every invariant holds" if report.ok else "some invariants broke")
    try:
        while True:
            now = clock.now()
            state.now = now
            stack.tick(now)
            stack.settle(now, timeout=5)
            notify(state)
            time.sleep(1.0)
    except KeyboardInterrupt:
        return


def _human_timeouts(speed: float | None) -> dict[str, str]:
    """At N x speed a 5-minute login code lasts 300/N real seconds: too short for the person
    trying the demo's API by hand. Their codes and tokens last N times longer instead."""
    if not speed or speed <= 1:
        return {}
    from app.core.settings import get_settings

    settings = get_settings()
    return {
        "LOGIN_CODE_TTL_SECONDS": str(int(settings.login_code_ttl_seconds * speed)),
        "ACCESS_TOKEN_MINUTES": str(int(settings.access_token_minutes * speed)),
    }


@dataclass(frozen=True)
class Pace:
    """Where the paced day started, in simulated and in wall time."""

    sim: datetime
    wall: float


def _next(
    options: DayOptions, clock: SimulatedClock, now: datetime, crowd: Any, crew: Any, pace: Pace
) -> datetime:
    """Jump to the next moment something is due (at most MAX_STEP on). With a speed, never
    run ahead of `speed` x the wall clock: the same day, paced for watching; when the work
    takes longer, the day simply runs slower than the speed asked."""
    candidates = [now + MAX_STEP]
    for moment in (crowd.next_moment(now), crew.next_moment(now)):
        if moment is not None:
            candidates.append(moment)
    target = max(min(candidates), now + MIN_STEP)
    if options.speed:
        target = min(target, now + timedelta(seconds=options.speed * PACE_STEP_S))
        due = pace.wall + (target - pace.sim).total_seconds() / options.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return clock.advance_to(target)


def _still_waiting(now: datetime, end: datetime, windows: list[Any]) -> bool:
    latest = latest_waiting_deadline([w.id for w in windows])
    return latest is not None and now < latest + timedelta(hours=1)


def _phase(now: datetime, windows: list[Any]) -> str:
    for window in windows:
        if now < window.cutoff_at:
            return f"ordering for the {window.slot_name} window"
        if now < window.ready_by:
            return f"{window.slot_name} window: packing and delivering"
    return "pickups and expiry"
