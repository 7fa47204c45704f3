"""The city the page benchmarks read: 600 neighborhoods at noon, the morning window on the road.

Built once into a SQLite file under `.bench-cache/` (reused while the arguments match): the
seeded city (`app.seed.city.build_city`, two windows a day, its van fleet and drivers), the
morning window's cut-off run at 06:00 (close, pack, reserve, route, publish), then half of the
routes started with their first stop arrived, so every page has live work to show. The clock
the pages read is a paused simulated clock at 12:00 local on that day.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import dbtools  # noqa: E402
from app.core.clock import SimulatedClock, set_clock  # noqa: E402
from app.core.db import make_engine  # noqa: E402
from app.schema import load_all_models  # noqa: E402
from app.seed.city import CitySpec, build_city  # noqa: E402
from app.windows.models import DeliveryWindow  # noqa: E402
from logistics import driver as driver_service  # noqa: E402
from logistics.models import Route  # noqa: E402
from logistics.pipeline import run_cutoff  # noqa: E402
from logistics.settings import LogisticsSettings  # noqa: E402

console = Console(stderr=True)
CACHE = Path(__file__).resolve().parent.parent / ".bench-cache"
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Midday:
    """Where the built city is and what a benchmark needs to find its way in it."""

    url: str
    noon_utc: str
    morning_window_id: int
    evening_window_id: int
    build_s: float
    cutoff_s: float


def _noon_of_day(day_offset: int = 1) -> datetime:
    local_day = datetime.now(ZONE).date() + timedelta(days=day_offset)
    return datetime(local_day.year, local_day.month, local_day.day, 12, tzinfo=ZONE).astimezone(UTC)


def build(
    *, neighborhoods: int = 600, residents: int = 130_000, time_limit: float = 10.0
) -> Midday:
    """The mid-day city (built now, or the cached one when the arguments match)."""
    key = hashlib.sha1(f"{neighborhoods}:{residents}:{time_limit}:v1".encode()).hexdigest()[:10]
    path = CACHE / f"midday-{key}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        found = Midday(**json.loads(meta.read_text()))
        dbtools.upgrade(found.url)  # a cached city gets the migrations added since it was built
        _use_clock(datetime.fromisoformat(found.noon_utc))
        return found
    CACHE.mkdir(exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    noon = _noon_of_day()
    local_midnight = noon.astimezone(ZONE).replace(hour=0).astimezone(UTC)
    load_all_models()
    dbtools.upgrade(url)
    factory = sessionmaker(bind=make_engine(url), expire_on_commit=False)
    spec = CitySpec(
        name="Shanghai",
        neighborhoods=neighborhoods,
        residents=residents,
        window_days=1,
        order_share=0.1,
    )
    console.print(f"building {neighborhoods} neighborhoods, {residents:,} residents ...")
    started = time.perf_counter()
    with factory() as session:
        build_city(db_session=session, spec=spec, seed=11, now=local_midnight)
        session.commit()
    build_s = time.perf_counter() - started
    with factory() as session:
        windows = list(
            session.scalars(
                select(DeliveryWindow)
                .where(DeliveryWindow.cutoff_at > local_midnight)
                .order_by(DeliveryWindow.cutoff_at)
            )
        )
        morning, evening = windows[0], windows[1]
        morning_id, evening_id, cutoff_at = morning.id, evening.id, morning.cutoff_at
    console.print("running the morning cut-off ...")
    started = time.perf_counter()
    report = run_cutoff(
        session_factory=factory,
        window_id=morning_id,
        settings=LogisticsSettings(solver_time_limit_s=time_limit),
        now=cutoff_at + timedelta(seconds=1),
    )
    cutoff_s = time.perf_counter() - started
    if report.status != "succeeded":  # RunStatus
        raise SystemExit(f"the morning cut-off ended {report.status}: {report.error}")
    _start_half_of_the_routes(factory, morning_id, cutoff_at + timedelta(hours=1))
    found = Midday(url, noon.isoformat(), morning_id, evening_id, build_s, cutoff_s)
    meta.write_text(json.dumps(asdict(found)))
    _use_clock(noon)
    return found


def _start_half_of_the_routes(factory: sessionmaker, window_id: int, at: datetime) -> None:  # type: ignore[type-arg]
    with factory() as session:
        routes = list(
            session.scalars(select(Route).where(Route.window_id == window_id).order_by(Route.id))
        )
        for route in routes[::2]:
            driver_service.start(db_session=session, route=route, now=at)
            if route.stops:
                first = route.stops[0].id
                driver_service.arrive(db_session=session, route=route, stop_id=first, now=at)
        session.commit()


def _use_clock(noon: datetime) -> None:
    set_clock(SimulatedClock(noon, speed=0.0))


def sessions_and_ids(city: Midday) -> tuple[dict[str, str], dict[str, int]]:
    """Session tokens per kind of user (an operator is added once), and ids pages need."""
    from app.core.security import Principal, create_access_token, hash_password
    from app.orders.models import Order
    from app.staff.models import StaffRole, StaffUser
    from logistics.models import Parcel, RouteStop

    factory = sessionmaker(bind=make_engine(city.url), expire_on_commit=False)
    with factory() as session:
        operator = session.scalar(select(StaffUser).where(StaffUser.username == "bench-operator"))
        if operator is None:
            operator = StaffUser(
                city_id=_city_id(session),
                username="bench-operator",
                full_name="Bench Operator",
                role=StaffRole.OPERATOR,
                password_hash=hash_password("bench-operator-password"),
            )
            session.add(operator)
            session.commit()
        route = session.scalar(
            select(Route)
            .where(Route.window_id == city.morning_window_id, Route.started_at.is_not(None))
            .order_by(Route.id)
        )
        assert route is not None and route.driver_id is not None
        parcel = session.scalar(
            select(Parcel).join(RouteStop).where(RouteStop.route_id == route.id).limit(1)
        )
        assert parcel is not None
        order = session.get(Order, parcel.order_id)
        assert order is not None
        evening_order = session.scalar(
            select(Order).where(Order.window_id == city.evening_window_id).limit(1)
        )
        assert evening_order is not None
        stop = route.stops[0]
        tokens = {
            "operator": Principal(operator.id, "operator"),
            "driver": Principal(route.driver_id, "driver"),
            "resident": Principal(order.resident_id, "resident"),
        }
        cookies = {who: create_access_token(p) for who, p in tokens.items()}
        cookies["api"] = cookies["operator"]
        cookies["driver-api"] = cookies["driver"]
        ids = {
            "route": route.id,
            "stop": stop.id,
            "bank": stop.bank_id,
            "parcel": parcel.id,
            "order": order.id,
            "neighborhood": 0,
            "evening_order": evening_order.id,
        }
    return cookies, ids


def _city_id(session: Session) -> int:
    from app.cities.models import City

    city_id = session.scalar(select(City.id).order_by(City.id).limit(1))
    assert city_id is not None
    return city_id
