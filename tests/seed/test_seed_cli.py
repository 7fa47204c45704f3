"""`pickup seed city`, `pickup seed demo` and `pickup demo`, against this run's database.

These commit for real (the `committed` fixture empties the tables afterwards). The demo test
builds the whole demo city (a few seconds)."""

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.catalog.models import Product
from app.cities.models import City
from app.core.settings import get_settings
from app.neighborhoods.models import Compartment, LockerBank, Neighborhood
from app.residents.models import Resident
from app.seed import cli as seed_cli
from app.seed import demo as demo_data
from app.staff import service as staff_service
from lockers.config import get_locker_settings

runner = CliRunner()


@pytest.fixture
def session_factory(committed, engine, monkeypatch):  # type: ignore[no-untyped-def]
    """Point the commands at this run's database instead of the configured one."""
    monkeypatch.setattr(seed_cli, "get_sessionmaker", lambda: committed)
    monkeypatch.setattr(seed_cli, "get_engine", lambda: engine)
    yield committed
    get_settings.cache_clear()  # forget what `demo` told the settings
    get_locker_settings.cache_clear()


def _count(session, model, *where) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_city_builds_reports_and_refuses_a_second_time(session_factory) -> None:  # type: ignore[no-untyped-def]
    args = ["city", "--neighborhoods", "2", "--residents", "30", "--name", "Clitown"]
    result = runner.invoke(seed_cli.app, [*args, "--code-prefix", "CL", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "Timing" in result.output and "Total" in result.output
    with session_factory() as session:
        city = session.scalar(select(City).where(City.name == "Clitown"))
        in_city = Neighborhood.city_id == city.id
        assert _count(session, Neighborhood, in_city) == 2
        assert _count(session, Resident.__table__.join(Neighborhood.__table__), in_city) == 30
    again = runner.invoke(seed_cli.app, [*args, "--code-prefix", "CX"])
    assert again.exit_code == 1 and "exists" in again.output


def test_seed_city_refuses_nonsense_options(session_factory) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(seed_cli.app, ["city", "--code-prefix", "no good", "--name", "X"])
    assert result.exit_code == 2 and "bank_code_prefix" in result.output
    with session_factory() as session:
        assert _count(session, City, City.name == "X") == 0


def test_demo_seeds_once_prints_logins_and_serves(session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from app import dbtools

    for name in ("MQTT_URL", "LOCKERS_EMBEDDED_PORT", "PUBLIC_BASE_URL", "SMS_CONSOLE_PHONES"):
        monkeypatch.delenv(name, raising=False)  # what the demo sets is undone afterwards
    served: dict = {}
    upgraded: list = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: served.update(target=target, **kw))
    monkeypatch.setattr(dbtools, "upgrade", lambda url, revision="head": upgraded.append(url))
    top = typer.Typer()
    top.command()(seed_cli.demo)
    top.command("other")(lambda: None)  # keep `demo` a named subcommand

    result = runner.invoke(top, ["demo", "--port", "8765"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert upgraded, "the database is migrated first"
    assert served == {
        "target": "app.embedded:create_app_with_embedded_services",
        "factory": True,
        "host": "127.0.0.1",
        "port": 8765,
        "proxy_headers": False,  # forwarded headers only from TRUSTED_PROXIES, in our middleware
        "http": "httptools",
        "loop": "uvloop",
        "access_log": False,
    }
    assert "http://127.0.0.1:8765/docs" in result.output
    assert "operator / demo-operator" in result.output and "driver / demo-driver" in result.output

    with session_factory() as session:
        city = session.scalar(select(City).where(City.name == "Shanghai"))
        in_city = Neighborhood.city_id == city.id
        assert _count(session, Neighborhood, in_city) == 60
        banks = LockerBank.__table__.join(Neighborhood.__table__)
        assert _count(session, banks, in_city) == 60
        per_bank = sum(count for _, _, count in demo_data.DEMO_LAYOUT)
        assert _count(session, Compartment.__table__.join(banks), in_city) == 60 * per_bank
        assert _count(session, Resident.__table__.join(Neighborhood.__table__), in_city) == 2000
        assert _count(session, Product, Product.city_id == city.id) == 80
        phone = session.scalar(
            select(Resident.phone).join(Neighborhood).where(in_city).order_by(Resident.id).limit(1)
        )
        assert phone in result.output
        assert "LOGIN CODE" in result.output, "the panel says where the resident's code appears"
        assert get_settings().sms_console_phones == phone
        user = staff_service.authenticate(
            db_session=session, username="operator", password="demo-operator"
        )
        assert user.city_id == city.id

    again = runner.invoke(seed_cli.app, ["demo"], terminal_width=200)
    assert again.exit_code == 0
    assert "exists" in again.output and "nothing changed" in again.output
    with session_factory() as session:
        assert _count(session, City, City.name == "Shanghai") == 1
