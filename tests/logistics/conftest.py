"""Fixtures for the cut-off tests: a small city with a depot, neighborhoods with locker banks, vans,
products in each temperature class, a window whose cut-off has passed, and orders.

The city's time zone is chosen so that its local time now is early morning (05:00-08:00): van
shifts of the local day then always cover the next hours, whatever the hour the tests run.
"""

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

os.environ.setdefault("LOGISTICS_SOLVER_TIME_LIMIT_S", "1")
os.environ.setdefault("LOGISTICS_REPLAN_TIME_LIMIT_S", "1")
os.environ.setdefault("LOGISTICS_SOLVER_WORKERS", "1")
os.environ.setdefault("LOGISTICS_PACKING_MINUTES", "0")

import pytest
from sqlalchemy.orm import Session

from app.catalog.models import Product
from app.core.enums import CompartmentSize, TemperatureClass
from app.groupbuys.models import GroupBuy
from app.neighborhoods.models import LockerBank, Neighborhood
from app.orders.models import LineStatus, Order, OrderStatus
from app.residents.models import Resident
from app.staff.models import StaffUser
from logistics.models import Vehicle
from logistics.settings import LogisticsSettings
from tests.factories import Factory

T = TemperatureClass
S = CompartmentSize
_VAN_NUMBERS = itertools.count(1)
DEFAULT_LOCKERS: dict[TemperatureClass, dict[CompartmentSize, int]] = {
    T.CHILLED: {S.S: 2, S.M: 2, S.L: 1},
    T.FROZEN: {S.S: 1, S.M: 1},
    T.AMBIENT: {S.M: 2},
}


def morning_zone(now: datetime | None = None) -> str:
    """An Etc/GMT zone whose local time now is between 05:00 and 07:59."""
    hour = (now or datetime.now(UTC)).hour
    for offset in range(-12, 15):
        if 5 <= (hour + offset) % 24 <= 7:
            if offset == 0:
                return "Etc/GMT"
            # POSIX-style names: Etc/GMT-8 is UTC+8.
            return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    raise AssertionError("unreachable")


def fast_settings(**overrides: Any) -> LogisticsSettings:
    """Settings for tests: 1 s of search, one worker, vans leave right after packing."""
    values: dict[str, Any] = dict(
        solver_time_limit_s=1.0,
        replan_time_limit_s=1.0,
        solver_workers=1,
        packing_minutes=0,
    )
    values.update(overrides)
    return LogisticsSettings(**values)


class World:
    """A small city to cut off, built in one session."""

    def __init__(self, make: Factory, *, window_hours: float = 4.0) -> None:
        self.make = make
        self.db: Session = make.db
        self.city = make.city(timezone=morning_zone())
        self.depot = make.depot(self.city, lat=31.23, lon=121.47)
        now = datetime.now(UTC).replace(microsecond=0)
        ready_by = now + timedelta(hours=window_hours)
        self.window = make.window(
            self.city,
            cutoff_in=timedelta(hours=-1),
            ready_by=ready_by,
            pickup_deadline=ready_by + timedelta(hours=24),
            local_date=now.astimezone(ZoneInfo(self.city.timezone)).date(),
        )
        self.chilled = make.product(self.city, temperature_class=T.CHILLED, max_minutes_out=120)
        self.frozen = make.product(
            self.city, temperature_class=T.FROZEN, packed_volume_ml=2000, max_minutes_out=90
        )
        self.ambient = make.product(self.city, temperature_class=T.AMBIENT, packed_volume_ml=3000)
        self._group_buys: dict[tuple[int, int, int], GroupBuy] = {}

    def hood(
        self,
        *,
        km_north: float = 1.0,
        km_east: float = 0.0,
        lockers: dict[TemperatureClass, dict[CompartmentSize, int]] | None = None,
        banks: int = 1,
    ) -> tuple[Neighborhood, LockerBank]:
        """A neighborhood this far from the depot with a bank (or several) of compartments."""
        lat = self.depot.lat + km_north / 111.0
        lon = self.depot.lon + km_east / 95.0
        hood = self.make.neighborhood(self.city, lat=lat, lon=lon)
        first: LockerBank | None = None
        for _ in range(banks):
            bank = self.make.locker_bank(hood)
            first = first or bank
            for zone, sizes in (DEFAULT_LOCKERS if lockers is None else lockers).items():
                for size, count in sizes.items():
                    for _ in range(count):
                        self.make.compartment(bank, size=size, zone=zone)
        assert first is not None
        return hood, first

    def van(self, **kw: Any) -> Vehicle:
        """A van at the depot with room for a few hundred litres per zone, on shift all day."""
        fields: dict[str, Any] = dict(
            city_id=self.city.id,
            depot_id=self.depot.id,
            code=f"VAN-{next(_VAN_NUMBERS)}",
            ambient_volume_ml=500_000,
            ambient_weight_g=300_000,
            chilled_volume_ml=500_000,
            chilled_weight_g=300_000,
            frozen_volume_ml=300_000,
            frozen_weight_g=200_000,
            shift_start_local=time(0, 0),
            shift_end_local=time(23, 59),
            fixed_cost_minor=10_000,
        )
        fields.update(kw)
        vehicle = Vehicle(**fields)
        self.db.add(vehicle)
        self.db.flush()
        return vehicle

    def driver(self) -> StaffUser:
        return self.make.driver(city=self.city)

    def operator(self) -> StaffUser:
        return self.make.operator(city=self.city)

    def resident(self, hood: Neighborhood) -> Resident:
        return self.make.resident(hood)

    def group_buy(self, hood: Neighborhood, product: Product) -> GroupBuy:
        key = (hood.id, self.window.id, product.id)
        if key not in self._group_buys:
            self._group_buys[key] = self.make.group_buy(
                neighborhood=hood,
                window=self.window,
                product=product,
                min_quantity=1,
                tiers=[(1, 1000)],
            )
        return self._group_buys[key]

    def order(
        self,
        hood: Neighborhood,
        lines: list[tuple[Product, int]],
        *,
        confirmed: bool = True,
        resident: Resident | None = None,
    ) -> Order:
        """An order of a resident of `hood`; confirmed (as after closing) unless told otherwise."""
        who = resident or self.resident(hood)
        order = self.make.order(who, [(self.group_buy(hood, p), q) for p, q in lines])
        if confirmed:
            order.status = OrderStatus.CONFIRMED
            order.charged_minor = order.paid_minor
            for line in order.lines:
                line.status = LineStatus.CONFIRMED
                line.final_unit_price_minor = line.paid_unit_price_minor
            self.db.flush()
        return order


@pytest.fixture
def world(make: Factory) -> World:
    """A small city in the test's rolled-back session."""
    return World(make)


@pytest.fixture
def settings() -> LogisticsSettings:
    return fast_settings()


@pytest.fixture
def committed_world(committed: Any) -> Iterator[Callable[[], tuple[World, Session]]]:
    """Build a World in a session whose commits are real (concurrency, pipeline runs)."""
    sessions: list[Session] = []

    def build() -> tuple[World, Session]:
        session = committed()
        sessions.append(session)
        return World(Factory(session)), session

    yield build
    for session in sessions:
        session.close()


@pytest.fixture
def app_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the process-wide settings, engine and sessions (CLI, Celery) at the test database."""
    from app.core import db as core_db
    from app.core import settings as core_settings

    caches = (core_settings.get_settings, core_db.get_engine, core_db.get_sessionmaker)
    monkeypatch.setenv("DATABASE_URL", database_url)
    for cached in caches:
        cached.cache_clear()
    yield database_url
    core_db.get_engine().dispose()
    monkeypatch.undo()
    for cached in caches:
        cached.cache_clear()


def serve_stop(db: Session, route: Any, stop: Any) -> None:
    """Drive one stop by the rules: arrive, every parcel deposited (as the locker says), depart."""
    from sqlalchemy import select

    from logistics import driver as driver_service
    from logistics import lifecycle
    from logistics.models import Parcel, ParcelStatus

    driver_service.arrive(db_session=db, route=route, stop_id=stop.id)
    for parcel in db.scalars(select(Parcel).where(Parcel.route_stop_id == stop.id)):
        lifecycle.transition(parcel, ParcelStatus.READY_FOR_PICKUP)
    db.flush()
    driver_service.depart(db_session=db, route=route, stop_id=stop.id)
