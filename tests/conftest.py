"""The fixture layer every package's tests reuse.

- one database per test run (SQLite file by default; a fresh PostgreSQL database when
  DATABASE_URL points at PostgreSQL), built with the Alembic migrations;
- `db`: a session inside a transaction rolled back after each test (routes' commits become
  savepoints);
- `committed`: a session factory whose commits are real (concurrency tests), tables emptied after;
- `make`: factories for domain objects; `world`: one neighborhood, window, resident and open
  group buy; `client_for(user)` / `resident_client` /
  `operator_client` / `driver_client` / `anon_client`: API clients per role.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-123456")

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import dbtools
from app.catalog.models import Product
from app.cities.models import City
from app.core.db import Base, get_db, make_engine
from app.core.security import Principal, create_access_token
from app.groupbuys.models import GroupBuy
from app.main import create_app
from app.neighborhoods.models import Neighborhood
from app.residents.models import Resident
from app.schema import load_all_models
from app.staff.models import StaffUser
from app.windows.models import DeliveryWindow
from tests.factories import Factory

pytest_plugins = ["tests.browser", "tests.ownership"]


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this run's own, removed at the end."""
    base = os.environ.get("DATABASE_URL", "")
    if not _is_postgres(base):
        path = Path(tmp_path_factory.mktemp("db")) / "test.db"
        yield f"sqlite:///{path}"
        return
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"pickup_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The migrated database's engine."""
    load_all_models()
    dbtools.upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture
def committed(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit (for concurrency); every table is emptied afterwards."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    yield factory
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def make(db: Session) -> Factory:
    """Factories for domain objects in the test's session."""
    return Factory(db)


@pytest.fixture
def app(db: Session):  # type: ignore[no-untyped-def]
    """The API application using the test's session."""
    application = create_app()

    def _override() -> Iterator[Session]:
        yield db

    application.dependency_overrides[get_db] = _override
    return application


@pytest.fixture
def anon_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client without credentials."""
    with TestClient(app, raise_server_exceptions=True) as client:
        yield client


def token_for(user: Resident | StaffUser) -> str:
    """A bearer token for a resident or staff account."""
    if isinstance(user, Resident):
        return create_access_token(Principal(subject_id=user.id, role="resident"))
    return create_access_token(Principal(subject_id=user.id, role=user.role.value))


@pytest.fixture
def client_for(app) -> Iterator[Callable[[Resident | StaffUser], TestClient]]:  # type: ignore[no-untyped-def]
    """Build a client authenticated as the given resident or staff account."""
    clients: list[TestClient] = []

    def build(user: Resident | StaffUser) -> TestClient:
        client = TestClient(app, raise_server_exceptions=True)
        client.headers["Authorization"] = f"Bearer {token_for(user)}"
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def page_client_for(app) -> Iterator[Callable[[Resident | StaffUser | None], TestClient]]:  # type: ignore[no-untyped-def]
    """A browser-like client for the pages: signed in by the session cookie (or anonymous),
    sending our own Origin the way a browser does on a form post."""
    from app.web.session import SESSION_COOKIE

    clients: list[TestClient] = []

    def build(user: Resident | StaffUser | None) -> TestClient:
        client = TestClient(app, raise_server_exceptions=True, follow_redirects=False)
        client.headers["Origin"] = "http://testserver"
        if user is not None:
            client.cookies.set(SESSION_COOKIE, token_for(user))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def resident(make: Factory) -> Resident:
    """A resident of a fresh neighborhood."""
    return make.resident()


@pytest.fixture
def resident_client(client_for, resident: Resident) -> TestClient:  # type: ignore[no-untyped-def]
    return client_for(resident)


@pytest.fixture
def operator(make: Factory) -> StaffUser:
    return make.operator()


@pytest.fixture
def operator_client(client_for, operator: StaffUser) -> TestClient:  # type: ignore[no-untyped-def]
    return client_for(operator)


@pytest.fixture
def driver(make: Factory) -> StaffUser:
    return make.driver()


@pytest.fixture
def driver_client(client_for, driver: StaffUser) -> TestClient:  # type: ignore[no-untyped-def]
    return client_for(driver)


@dataclass
class World:
    city: City
    hood: Neighborhood
    window: DeliveryWindow
    resident: Resident
    gb: GroupBuy
    product: Product


@pytest.fixture
def world(make: Factory) -> World:
    """A neighborhood with one resident and one open group buy (tiers 12.00 / 9.90 / 8.90)."""
    city = make.default_city()
    hood = make.neighborhood()
    window = make.window()
    product = make.product()
    gb = make.group_buy(
        neighborhood=hood, window=window, product=product, min_quantity=10, stock_cap=40
    )
    resident = make.resident(hood)
    return World(city, hood, window, resident, gb, product)


@pytest.fixture
def other_city_operator(make: Factory) -> StaffUser:
    """An operator of another city."""
    return make.operator(city=make.city())


@pytest.fixture(scope="session")
def vrptw_dir() -> Path:
    """The VRPTW instances shipped with the tests (tests/data/vrptw: six Solomon, bks.csv)."""
    return Path(__file__).resolve().parent / "data" / "vrptw"
