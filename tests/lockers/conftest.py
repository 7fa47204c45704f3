"""Fixtures for the locker tests: a real broker, a bridge, virtual banks, a small world.

The broker is the Mosquitto named by MQTT_URL (CI: mqtt://127.0.0.1:1883), otherwise an
embedded amqtt broker on a free port for the session. Every test uses its own topic prefix
and bank codes, so runs sharing a broker never see each other's messages.
"""

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import get_db, utcnow
from app.core.enums import CompartmentSize, TemperatureClass
from app.main import create_app
from app.neighborhoods.models import Compartment, CompartmentStatus, LockerBank, Neighborhood
from app.orders.models import Order, OrderStatus
from app.residents.models import Resident
from app.staff.models import StaffUser
from app.windows.models import DeliveryWindow
from lockers.bridge import Bridge
from lockers.broker import EmbeddedBroker, MqttTarget, free_port, parse_mqtt_url
from lockers.config import get_locker_settings
from lockers.simulator import BankSpec, Fleet, VirtualBank
from logistics.models import Parcel, ParcelStatus
from tests.conftest import token_for
from tests.factories import Factory

FAST_SETTINGS = {
    "LOCKERS_HEARTBEAT_SECONDS": "1",
    "LOCKERS_OFFLINE_AFTER_SECONDS": "1.5",
    "LOCKERS_POLL_INTERVAL_SECONDS": "0.02",
    "LOCKERS_TICK_SECONDS": "0.1",
    "LOCKERS_HOUSEKEEPING_SECONDS": "3600",
    "LOCKERS_COMMAND_RESEND_SECONDS": "0.3",
    "LOCKERS_COMMAND_RESEND_MAX_SECONDS": "0.6",
    "LOCKERS_OPEN_COMMAND_TTL_SECONDS": "30",
    "LOCKERS_CLOCK_GRACE_SECONDS": "0",
    "LOCKERS_COLD_CHAIN_ALARM_SECONDS": "0.5",
    "LOCKERS_KEYPAD_LOCKOUT_SECONDS": "1",
    "LOCKERS_PBKDF2_ITERATIONS": "1000",
    "LOCKERS_MQTT_KEEPALIVE_SECONDS": "5",
    "LOCKERS_EVENT_GAP_GRACE_SECONDS": "0.3",
}


@pytest.fixture(autouse=True)
def fast_locker_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short timeouts so the flows finish in a fraction of a second."""
    for key, value in FAST_SETTINGS.items():
        monkeypatch.setenv(key, value)
    get_locker_settings.cache_clear()
    yield
    get_locker_settings.cache_clear()


@pytest.fixture(scope="session")
def mqtt_target() -> Iterator[MqttTarget]:
    """The broker the tests talk to: MQTT_URL's Mosquitto, or an embedded amqtt broker."""
    url = os.environ.get("MQTT_URL", "")
    if url.startswith(("mqtt://", "mqtts://")):
        yield parse_mqtt_url(url)
        return
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    yield broker.target
    broker.stop()


def mqtt_url_of(target: MqttTarget) -> str:
    """A URL for a target (credentials included)."""
    auth = ""
    if target.username:
        auth = target.username + (f":{target.password}" if target.password else "") + "@"
    return f"mqtt://{auth}{target.host}:{target.port}"


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own."""
    return f"t{uuid.uuid4().hex[:10]}/lockers"


def wait_for(predicate: Callable[[], Any], timeout: float = 8.0, interval: float = 0.03) -> Any:
    """Poll until `predicate()` is truthy; return its value or fail with the last one."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        time.sleep(interval)
        value = predicate()
    return value


@dataclass
class World:
    """One city's slice: a bank with compartments, people, a window, parcels on their way."""

    sessions: sessionmaker[Session]
    bank: LockerBank
    hood: Neighborhood
    compartments: dict[str, Compartment]
    resident: Resident
    driver: StaffUser
    operator: StaffUser
    window: DeliveryWindow
    make: Factory
    db: Session
    parcels: list[Parcel] = field(default_factory=list)

    def parcel(
        self,
        label: str,
        *,
        resident: Resident | None = None,
        status: ParcelStatus = ParcelStatus.RESERVED,
        deadline: datetime | None = None,
        order_status: OrderStatus = OrderStatus.PACKED,
    ) -> Parcel:
        """A parcel reserved in compartment `label` for an order of its own (committed)."""
        who = resident or self.resident
        gb = self.make.group_buy(neighborhood=self.hood, window=self.window)
        order: Order = self.make.order(who, [(gb, 1)], status=order_status)
        compartment = self.compartments[label]
        parcel = Parcel(
            order_id=order.id,
            window_id=self.window.id,
            resident_id=who.id,
            neighborhood_id=self.hood.id,
            temperature_class=compartment.zone,
            volume_ml=2000,
            weight_g=800,
            compartment_size=compartment.size,
            bank_id=self.bank.id,
            compartment_id=compartment.id,
            status=status,
            pickup_deadline=deadline or utcnow() + timedelta(hours=20),
        )
        self.db.add(parcel)
        if status in (ParcelStatus.RESERVED, ParcelStatus.LOADED):
            compartment.status = CompartmentStatus.RESERVED
        elif status == ParcelStatus.READY_FOR_PICKUP:
            compartment.status = CompartmentStatus.OCCUPIED
        self.db.commit()
        self.parcels.append(parcel)
        return parcel

    def spec(self) -> BankSpec:
        """The bank as the simulator builds it."""
        return BankSpec(
            code=self.bank.code,
            compartments=[(c.label, c.zone.value) for c in self.compartments.values()],
        )


def build_world(db: Session, sessions: sessionmaker[Session], *, code: str | None = None) -> World:
    """A committed world with bank compartments A1-A3 (chilled), F1 (frozen), R1 (ambient)."""
    make = Factory(db)
    city = make.city()
    make._city = city
    hood = make.neighborhood(city)
    bank = make.locker_bank(hood, code=code or f"tb-{uuid.uuid4().hex[:10]}", address="1 Test Road")
    compartments = {}
    for label, zone in (
        ("A1", TemperatureClass.CHILLED),
        ("A2", TemperatureClass.CHILLED),
        ("A3", TemperatureClass.CHILLED),
        ("F1", TemperatureClass.FROZEN),
        ("R1", TemperatureClass.AMBIENT),
    ):
        compartments[label] = make.compartment(bank, label=label, zone=zone, size=CompartmentSize.M)
    world = World(
        sessions=sessions,
        bank=bank,
        hood=hood,
        compartments=compartments,
        resident=make.resident(hood),
        driver=make.driver(city=city),
        operator=make.operator(city=city),
        window=make.window(city),
        make=make,
        db=db,
    )
    db.commit()
    return world


@pytest.fixture
def w(db: Session) -> World:
    """A world in the test's own transaction, rolled back after it (service-level tests)."""
    return build_world(db, None)  # type: ignore[arg-type]


@pytest.fixture
def world(committed: sessionmaker[Session]) -> Iterator[World]:
    """A committed world (tables emptied after the test)."""
    with committed() as db:
        yield build_world(db, committed)


@pytest.fixture
def live_client_for(committed: sessionmaker[Session]) -> Iterator[Callable[[Any], TestClient]]:
    """API clients whose requests commit for real (so the bridge thread sees them)."""
    application = create_app()

    def _db() -> Iterator[Session]:
        with committed() as session:
            yield session

    application.dependency_overrides[get_db] = _db
    clients: list[TestClient] = []

    def build(user: Any) -> TestClient:
        client = TestClient(application)
        client.headers["Authorization"] = f"Bearer {token_for(user)}"
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def start_bridge(
    target: MqttTarget, sessions: sessionmaker[Session], prefix: str, **kw: Any
) -> Bridge:
    """A bridge of the test's own (unique client id), connected."""
    bridge = Bridge(
        mqtt_url=mqtt_url_of(target),
        session_factory=sessions,
        client_id=f"test-bridge-{uuid.uuid4().hex[:8]}",
        topic_prefix=prefix,
        start_embedded_broker=False,
        housekeeping=False,
        **kw,
    )
    bridge.start()
    assert bridge.wait_connected(10), "bridge did not connect"
    return bridge


@pytest.fixture
def bridge(
    mqtt_target: MqttTarget, committed: sessionmaker[Session], prefix: str
) -> Iterator[Bridge]:
    running = start_bridge(mqtt_target, committed, prefix)
    yield running
    running.stop(purge_session=True)


@pytest.fixture
def fleet(mqtt_target: MqttTarget, prefix: str) -> Iterator[Fleet]:
    """A fleet (started by the test after adding banks via `online_bank`)."""
    running = Fleet(
        mqtt_target,
        prefix=prefix,
        heartbeat_s=0.5,
        keepalive_s=5,
        auto_close_s=0.05,
        keypad_lockout_s=1,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
    )
    yield running
    running.stop(graceful=True)


@pytest.fixture
def online_bank(world: World, fleet: Fleet, bridge: Bridge) -> VirtualBank:
    """The world's bank, simulated, online and known online to the server."""
    from lockers import banks

    bank = fleet.add_bank(world.spec())
    fleet.start()
    assert fleet.wait_online(10)

    def _online() -> bool:
        with world.sessions() as db:
            return banks.is_online(db_session=db, bank_id=world.bank.id)

    wait_for(_online)
    return bank
