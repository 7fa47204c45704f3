"""Every port `pickup serve` and `pickup demo` bind can be set, a taken one is named with the
option that changes it, and links follow the address the server binds."""

import socket
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from app import cli as app_cli
from app import serving
from app.core.settings import get_settings
from lockers.broker import EmbeddedBroker, PortInUse, free_port
from lockers.config import get_locker_settings

runner = CliRunner()
ADDRESS_ENV = (
    "MQTT_URL",
    "LOCKERS_EMBEDDED_PORT",
    "PUBLIC_BASE_URL",
    "SMS_CONSOLE_PHONES",
    "PICKUP_ACCESS_LOG",
    "PICKUP_HTTP",
    "PICKUP_LOOP",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """No address in the environment; whatever serve sets is undone; uvicorn only recorded."""
    import uvicorn

    for name in ADDRESS_ENV:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    get_locker_settings.cache_clear()
    served: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: served.append(kw))
    yield served
    get_settings.cache_clear()
    get_locker_settings.cache_clear()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port somebody listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_base_moves_http_and_the_embedded_broker(clean_env) -> None:  # type: ignore[no-untyped-def]
    base = free_port()
    result = runner.invoke(app_cli.app, ["serve", "--port-base", str(base)])
    assert result.exit_code == 0, result.output
    assert clean_env == [
        {
            "factory": True,
            "host": "127.0.0.1",
            "port": base,
            "proxy_headers": False,
            "http": "httptools",
            "loop": "uvloop",
            "access_log": False,
        }
    ]
    settings = get_settings()
    assert settings.mqtt_url == f"embedded://127.0.0.1:{base + 1}"
    assert get_locker_settings().embedded_port == base + 1
    assert settings.public_url() == f"http://127.0.0.1:{base}", "links follow the bound address"
    assert settings.public_url("http://testserver/") == f"http://127.0.0.1:{base}"


def test_ports_come_from_the_environment_too(clean_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    http, mqtt = free_port(), free_port()
    monkeypatch.setenv("PICKUP_PORT", str(http))
    monkeypatch.setenv("PICKUP_MQTT_PORT", str(mqtt))
    result = runner.invoke(app_cli.app, ["serve"])
    assert result.exit_code == 0, result.output
    assert clean_env[0]["port"] == http
    assert get_settings().mqtt_url == f"embedded://127.0.0.1:{mqtt}"


def test_a_configured_public_base_url_is_kept(clean_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pickup.example.com")
    get_settings.cache_clear()
    result = runner.invoke(app_cli.app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 0, result.output
    assert get_settings().public_url() == "https://pickup.example.com"


def test_a_taken_http_port_is_named_with_its_option(clean_env, taken_port) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app_cli.app, ["serve", "--port", str(taken_port)], terminal_width=300)
    assert result.exit_code == 1
    assert f"port {taken_port}" in result.output and "--port" in result.output
    assert "HTTP" in result.output and clean_env == []


def test_a_taken_broker_port_is_named_with_its_option(clean_env, taken_port) -> None:  # type: ignore[no-untyped-def]
    args = ["serve", "--port", str(free_port()), "--mqtt-port", str(taken_port)]
    result = runner.invoke(app_cli.app, args, terminal_width=300)
    assert result.exit_code == 1
    assert f"port {taken_port}" in result.output and "--mqtt-port" in result.output
    assert "MQTT" in result.output and clean_env == []


def test_the_embedded_broker_refuses_a_taken_port_by_name(taken_port) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PortInUse) as caught:
        EmbeddedBroker("127.0.0.1", taken_port).start()
    assert f"port {taken_port}" in str(caught.value)
    assert "LOCKERS_EMBEDDED_PORT" in str(caught.value)


def test_two_addresses_side_by_side_do_not_share_a_port(clean_env) -> None:  # type: ignore[no-untyped-def]
    first = serving.resolve(host="127.0.0.1", port_base=18000)
    second = serving.resolve(host="127.0.0.1", port_base=18010)
    ports = {first.http_port, first.mqtt_port, second.http_port, second.mqtt_port}
    assert len(ports) == 4


def test_demo_takes_the_same_port_options(clean_env, committed, engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app import dbtools
    from app.seed import cli as seed_cli

    monkeypatch.setattr(seed_cli, "get_sessionmaker", lambda: committed)
    monkeypatch.setattr(dbtools, "upgrade", lambda url, revision="head": None)
    top = typer.Typer()
    top.command()(seed_cli.demo)
    top.command("other")(lambda: None)
    base = free_port()
    result = runner.invoke(top, ["demo", "--port-base", str(base)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert clean_env[0]["port"] == base
    assert f"http://127.0.0.1:{base}/docs" in result.output
    assert get_settings().mqtt_url == f"embedded://127.0.0.1:{base + 1}"


def test_access_log_parser_and_loop_are_options(clean_env) -> None:  # type: ignore[no-untyped-def]
    args = ["serve", "--port", str(free_port()), "--access-log", "--http", "h11"]
    result = runner.invoke(app_cli.app, [*args, "--loop", "asyncio"])
    assert result.exit_code == 0, result.output
    assert (clean_env[0]["access_log"], clean_env[0]["http"], clean_env[0]["loop"]) == (
        True,
        "h11",
        "asyncio",
    )


@pytest.mark.parametrize(("option", "value"), [("--http", "nginx"), ("--loop", "trio")])
def test_an_unknown_parser_or_loop_is_named(clean_env, option, value) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app_cli.app, ["serve", option, value], terminal_width=300)
    assert result.exit_code == 2
    assert option in result.output and clean_env == []
