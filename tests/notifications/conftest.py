"""Fixtures for notifications: a local fake Twilio (a real HTTP server in a thread, reached
through the real `twilio` SDK), settings pointing at it, and builders for residents, orders,
parcels in lockers and outbox events."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy.orm import Session, sessionmaker

from app.core import db as core_db
from app.core import sms as core_sms
from app.core.celery_app import celery_app
from app.core.enums import CompartmentSize, Language, TemperatureClass
from app.core.settings import get_settings
from app.events import service as event_service
from app.events.models import OutboxEvent
from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from logistics.models import Parcel, ParcelStatus
from notifications import providers
from notifications.config import get_config
from notifications.models import Message
from simulation.twilio_server import FakeTwilio, FakeTwilioServer
from tests.factories import Factory

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
MESSAGING_SERVICE_SID = "MG" + "2" * 32
PUBLIC_BASE_URL = "https://pickup.example.com"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs a real Celery worker (seconds, not ms)")


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_config.cache_clear()
    core_sms.get_sms_sender.cache_clear()
    if core_db.get_engine.cache_info().currsize:
        core_db.get_engine().dispose()
    core_db.get_engine.cache_clear()
    core_db.get_sessionmaker.cache_clear()


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilioServer]:
    """The fake Twilio API, served for the whole run."""
    server = FakeTwilioServer(FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def notification_env(
    monkeypatch: pytest.MonkeyPatch, twilio_server: FakeTwilioServer, database_url: str
) -> Iterator[None]:
    """Settings of every notifications test: Twilio at the fake server, this run's database
    (tasks run eagerly in-process with the embedded broker and open their own sessions)."""
    env = {
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
        "TWILIO_BASE_URL": twilio_server.base_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "memory://",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # Tasks are queued on the in-memory broker, not run eagerly inside the request: an eager
    # task would open a second connection and wait on the test's open transaction.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    _clear_caches()
    twilio_server.fake.reset()
    yield
    celery_app.conf.task_always_eager = eager
    _clear_caches()
    with Connection("memory://") as connection:
        connection.SimpleQueue("notifications").clear()


@pytest.fixture
def fake_twilio(twilio_server: FakeTwilioServer) -> FakeTwilio:
    """The fake Twilio's state (reset before each test)."""
    return twilio_server.fake


def queued_tasks() -> list[tuple[str, list[Any]]]:
    """The tasks waiting in the in-memory broker's notifications queue: (name, args)."""
    assert get_settings().celery_broker_url == "memory://"
    found = []
    with Connection("memory://") as connection:
        queue = connection.SimpleQueue("notifications")
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            found.append((message.headers["task"], list(message.payload[0])))
            message.ack()
    return found


@pytest.fixture
def provider() -> providers.SmsProvider:
    """The Twilio provider, through the real SDK, to the fake server."""
    return providers.get_provider()


@pytest.fixture
def session_factory(db: Session) -> sessionmaker[Session]:
    """Sessions on the test's connection: their commits are savepoints, rolled back at the end."""
    return sessionmaker(
        bind=db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )


class World:
    """Builds what notifications read: residents, orders, parcels in lockers, events."""

    def __init__(self, db: Session, make: Factory) -> None:
        self.db = db
        self.make = make
        self._events = 0

    def resident(self, *, language: Language = Language.EN, **kw: Any) -> Resident:
        return self.make.resident(language=language, **kw)

    def order_event(
        self, resident: Resident, *, kind: str = "order.confirmed", **payload: Any
    ) -> OutboxEvent:
        gb = self.make.group_buy()
        order = self.make.order(resident, [(gb, 2)])
        data = {
            "order_id": order.id,
            "resident_id": resident.id,
            "charged_minor": 1980,
            "refunded_minor": 0,
            "currency": "CNY",
        }
        data.update(payload)
        return self.event(kind, data, key=f"order:{order.id}:{kind}")

    def event(self, kind: str, payload: dict[str, Any], *, key: str | None = None) -> OutboxEvent:
        self._events += 1
        return event_service.emit(
            db_session=self.db,
            kind=kind,
            dedupe_key=key or f"test:{kind}:{self._events}:{id(self)}",
            payload=payload,
        )

    def parcel(
        self,
        resident: Resident | None = None,
        *,
        deadline: datetime | None = None,
        status: ParcelStatus = ParcelStatus.READY_FOR_PICKUP,
        bank_name: str = "Jade Garden Lockers",
        address: str = "88 Huaihai Rd",
        label: str = "B07",
    ) -> Parcel:
        """A parcel in a compartment of a bank in the resident's neighborhood, with its code."""
        from lockers import codes

        resident = resident or self.resident()
        hood = self.db.get(Neighborhood, resident.neighborhood_id)
        bank = self.make.locker_bank(hood, name=bank_name, address=address)
        compartment = self.make.compartment(bank, label=label, size=CompartmentSize.M)
        gb = self.make.group_buy(neighborhood=hood)
        order = self.make.order(resident, [(gb, 1)])
        parcel = Parcel(
            order_id=order.id,
            window_id=order.window_id,
            resident_id=resident.id,
            neighborhood_id=resident.neighborhood_id,
            temperature_class=TemperatureClass.CHILLED,
            volume_ml=1500,
            weight_g=500,
            compartment_size=CompartmentSize.M,
            bank_id=bank.id,
            compartment_id=compartment.id,
            status=status,
            pickup_deadline=deadline or datetime.now(UTC) + timedelta(hours=24),
        )
        self.db.add(parcel)
        self.db.flush()
        codes.ensure_pickup_code(db_session=self.db, parcel=parcel)
        self.db.flush()
        return parcel

    def ready_event(self, parcel: Parcel) -> OutboxEvent:
        return self.event(
            "parcel.ready_for_pickup",
            {
                "parcel_id": parcel.id,
                "order_id": parcel.order_id,
                "resident_id": parcel.resident_id,
                "bank_id": parcel.bank_id,
                "compartment_id": parcel.compartment_id,
            },
            key=f"parcel:{parcel.id}:ready",
        )


@pytest.fixture
def world(db: Session, make: Factory) -> World:
    return World(db, make)


@pytest.fixture
def deliver(
    session_factory: sessionmaker[Session], provider: providers.SmsProvider
) -> Callable[[int], str]:
    """One delivery attempt of a message through the fake Twilio; returns the action."""
    from notifications import delivery

    def attempt(message_id: int) -> str:
        return delivery.deliver(
            session_factory=session_factory, message_id=message_id, provider=provider
        ).action

    return attempt


Deliver = Callable[[int], str]


def dispatched(db: Session) -> list[int]:
    """Run the SMS dispatcher over the outbox; the ids of the messages to send."""
    from notifications import dispatch

    result = dispatch.consume(db_session=db)
    db.flush()
    return result.to_send


def reloaded(db: Session, message_id: int) -> Message:
    """The message as stored now."""
    db.expire_all()
    message = db.get(Message, message_id)
    assert message is not None
    return message
