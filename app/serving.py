"""The address `pickup serve` and `pickup demo` bind: ports chosen by option or environment,
refused up front when taken (naming the port and the option that changes it), and told to the
rest of the process: the embedded MQTT broker's port and the public base URL of links.

Options (and their environment variables): `--host` (PICKUP_HOST), `--port` for HTTP
(PICKUP_PORT, default 8000), `--mqtt-port` for the embedded broker (PICKUP_MQTT_PORT; else
the port of MQTT_URL=embedded://HOST:PORT, else LOCKERS_EMBEDDED_PORT, default 11883), or a
single `--port-base` (PICKUP_PORT_BASE): HTTP on it, the broker on the next port.

The HTTP workers parse with httptools on uvloop's event loop, named explicitly (not uvicorn's
"auto", which falls back to h11 and asyncio without a word when they are missing). uvicorn hands
uvloop to its own loop only: the embedded broker's thread still makes a plain asyncio loop.
The access log (one line per request) is off unless `--access-log` (PICKUP_ACCESS_LOG): the
proxy in front logs every request; errors are logged either way.
"""

import os
import socket
from dataclasses import dataclass

import typer

from app.core.settings import get_settings
from lockers.broker import EMBEDDED_PORT_HINT, PortInUse, parse_mqtt_url, require_free_port
from lockers.config import get_locker_settings

DEFAULT_HTTP_PORT = 8000
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
APP_FACTORY = "app.embedded:create_app_with_embedded_services"
WORKER_HEALTHCHECK_SECONDS = 60

HostOption = typer.Option("127.0.0.1", envvar="PICKUP_HOST", help="Address to bind")
PortOption = typer.Option(
    None, envvar="PICKUP_PORT", min=1, max=65535, help="HTTP port [default: 8000]"
)
MqttPortOption = typer.Option(
    None,
    envvar="PICKUP_MQTT_PORT",
    min=1,
    max=65535,
    help="Port of the embedded MQTT broker [default: LOCKERS_EMBEDDED_PORT, 11883]",
)
PortBaseOption = typer.Option(
    None,
    envvar="PICKUP_PORT_BASE",
    min=1,
    max=65534,
    help="HTTP on this port, the embedded MQTT broker on the next (two demos side by side)",
)
AccessLogOption = typer.Option(
    False,
    "--access-log/--no-access-log",
    envvar="PICKUP_ACCESS_LOG",
    help="Log one line per request (the proxy in front usually does)",
)
HttpOption = typer.Option(
    "httptools", envvar="PICKUP_HTTP", help="HTTP parser: httptools, or h11 (pure Python)"
)
LoopOption = typer.Option(
    "uvloop", envvar="PICKUP_LOOP", help="Event loop of the HTTP workers: uvloop or asyncio"
)
HTTP_IMPLEMENTATIONS = ("httptools", "h11")
LOOPS = ("uvloop", "asyncio")
WorkersOption = typer.Option(
    1,
    envvar="PICKUP_WORKERS",
    min=1,
    max=64,
    help="HTTP worker processes sharing the port (the embedded services run once, beside them)",
)


@dataclass(frozen=True)
class ServeAddress:
    """Where the server listens; `mqtt_port` is None when MQTT_URL names a real broker."""

    host: str
    http_port: int
    mqtt_host: str | None = None
    mqtt_port: int | None = None

    @property
    def base_url(self) -> str:
        """The HTTP address as links should show it (a wildcard bind shows as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.http_port}"


def resolve(
    *,
    host: str,
    port: int | None = None,
    mqtt_port: int | None = None,
    port_base: int | None = None,
) -> ServeAddress:
    """The ports to bind from the options, the environment and the settings."""
    http_port = port or port_base or DEFAULT_HTTP_PORT
    target = parse_mqtt_url(get_settings().mqtt_url)
    if not target.embedded:
        return ServeAddress(host=host, http_port=http_port)
    broker_port = mqtt_port or (port_base + 1 if port_base else target.port)
    return ServeAddress(
        host=host, http_port=http_port, mqtt_host=target.host, mqtt_port=broker_port
    )


def check_free(address: ServeAddress) -> None:
    """PortInUse, naming the port and how to change it, when one of ours is taken."""
    require_free_port(
        address.host,
        address.http_port,
        "HTTP API",
        "choose another with --port (or --port-base), or set PICKUP_PORT",
    )
    if address.mqtt_host is not None and address.mqtt_port is not None:
        require_free_port(
            address.mqtt_host, address.mqtt_port, "embedded MQTT broker", EMBEDDED_PORT_HINT
        )
    if address.mqtt_port is not None and address.mqtt_port == address.http_port:
        raise PortInUse(
            address.host,
            address.http_port,
            "HTTP API and embedded MQTT broker both",
            "give --port and --mqtt-port different values",
        )


def apply(address: ServeAddress) -> None:
    """Tell the process the chosen address: the embedded broker's port (MQTT_URL), and the
    public base URL of links unless PUBLIC_BASE_URL is configured."""
    if address.mqtt_host is not None and address.mqtt_port is not None:
        os.environ["MQTT_URL"] = f"embedded://{address.mqtt_host}:{address.mqtt_port}"
        os.environ["LOCKERS_EMBEDDED_PORT"] = str(address.mqtt_port)
    if "public_base_url" not in get_settings().model_fields_set:
        os.environ["PUBLIC_BASE_URL"] = address.base_url
    get_settings.cache_clear()
    get_locker_settings.cache_clear()


def prepare(
    *,
    host: str,
    port: int | None = None,
    mqtt_port: int | None = None,
    port_base: int | None = None,
) -> ServeAddress:
    """Resolve, check and apply the address; PortInUse when a port is taken."""
    address = resolve(host=host, port=port, mqtt_port=mqtt_port, port_base=port_base)
    check_free(address)
    apply(address)
    return address


@dataclass(frozen=True)
class Engine:
    """How the HTTP workers run: parser, event loop, access log."""

    http: str = "httptools"
    loop: str = "uvloop"
    access_log: bool = False

    def __post_init__(self) -> None:
        if self.http not in HTTP_IMPLEMENTATIONS:
            raise ValueError(f"--http must be one of {', '.join(HTTP_IMPLEMENTATIONS)}")
        if self.loop not in LOOPS:
            raise ValueError(f"--loop must be one of {', '.join(LOOPS)}")


def run(
    address: ServeAddress, *, reload: bool = False, workers: int = 1, engine: Engine = Engine()
) -> None:
    """Serve the API (and, on the embedded defaults, everything else) until stopped.

    With several workers the HTTP processes share the port, and the embedded services (broker,
    locker bridge, clockwork) run once, in this supervising process, not in any worker."""
    import uvicorn

    # Forwarded headers are believed only from TRUSTED_PROXIES (app.core.forwarded), never
    # from whatever uvicorn trusts by default (127.0.0.1).
    options: dict[str, object] = {
        "factory": True,
        "host": address.host,
        "port": address.http_port,
        "proxy_headers": False,
        "http": engine.http,
        "loop": engine.loop,
        "access_log": engine.access_log,
    }
    if reload:
        options["reload"] = True
    if workers <= 1:
        uvicorn.run(APP_FACTORY, **options)  # type: ignore[arg-type]
        return
    _run_workers(address, options, workers)


def _run_workers(address: ServeAddress, options: dict[str, object], workers: int) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from app import embedded

    # A worker answers the supervisor's health pings only once it has imported the project
    # (seconds on a loaded machine); uvicorn's default 5 s kills it in a loop before that.
    config = uvicorn.Config(
        APP_FACTORY,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        **options,  # type: ignore[arg-type]
    )
    listener = tcp_listener(address.host, address.http_port)
    os.environ[embedded.SERVICES_ELSEWHERE_ENV] = "1"  # the workers inherit it
    stoppers = embedded.start_embedded_services()
    try:
        Multiprocess(config, sockets=[listener]).run()
    finally:
        for stop in reversed(stoppers):
            stop()
        listener.close()


def tcp_listener(host: str, port: int) -> socket.socket:
    """The workers' shared listening socket, made as TCP explicitly: uvicorn's own has protocol
    0, and asyncio sets TCP_NODELAY only on connections accepted from an IPPROTO_TCP socket
    (without it a small answer can wait for the client's delayed ACK)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener
