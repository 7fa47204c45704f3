"""Where the MQTT broker is: a URL parser, and the embedded amqtt broker for `embedded://`.

`MQTT_URL=embedded://` (the default) starts a pure-Python amqtt broker in a background thread
with its own event loop, on LOCKERS_EMBEDDED_HOST:LOCKERS_EMBEDDED_PORT (or the host:port in
the URL, e.g. `embedded://127.0.0.1:11883`; `pickup serve|demo --mqtt-port` sets it). A taken
port is refused up front with `PortInUse`, which names the port and how to change it. In CI
and docker-compose it is Mosquitto: `MQTT_URL=mqtt://user:pass@host:1883` (or `mqtts://`).
"""

import asyncio
import contextlib
import errno
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from lockers.config import LockerSettings, get_locker_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttTarget:
    """Connection parameters of a broker."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    embedded: bool = False

    def url(self) -> str:
        """The broker as a URL without credentials (for logs)."""
        scheme = "embedded" if self.embedded else ("mqtts" if self.tls else "mqtt")
        return f"{scheme}://{self.host}:{self.port}"


def parse_mqtt_url(url: str, settings: LockerSettings | None = None) -> MqttTarget:
    """Parse `mqtt://[user:pass@]host[:port]`, `mqtts://...` or `embedded://[host:port]`."""
    settings = settings or get_locker_settings()
    parts = urlsplit(url)
    if parts.scheme == "embedded":
        return MqttTarget(
            host=parts.hostname or settings.embedded_host,
            port=parts.port or settings.embedded_port,
            embedded=True,
        )
    if parts.scheme not in ("mqtt", "mqtts", "tcp"):
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r}: use mqtt, mqtts, embedded")
    if not parts.hostname:
        raise ValueError("the MQTT URL names no host")
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


class PortInUse(RuntimeError):
    """A port this process must bind is taken; the message names it and how to change it."""

    def __init__(self, host: str, port: int, what: str, how_to_change: str) -> None:
        super().__init__(
            f"port {port} on {host} ({what}) is already in use, perhaps by another "
            f"`pickup demo` or `pickup serve`: {how_to_change}"
        )
        self.host = host
        self.port = port


EMBEDDED_PORT_HINT = (
    "choose another with --mqtt-port (or --port-base), or set LOCKERS_EMBEDDED_PORT "
    "(or MQTT_URL=embedded://HOST:PORT)"
)


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP listener could bind host:port now (as servers do, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(host: str, port: int, what: str, how_to_change: str) -> None:
    """Raise PortInUse naming the port, what needs it and how to change it, if it is taken."""
    if not port_is_free(host, port):
        raise PortInUse(host, port, what, how_to_change)


class BrokerHandle(Protocol):
    """A broker this process runs (embedded) and can stop."""

    target: MqttTarget

    def start(self, timeout: float = 10.0) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class SubscriptionTable(dict[str, Any]):
    """amqtt's table of subscriptions, iterated over a copy.

    amqtt 0.12 walks the table with awaits inside the loop (retained messages for a client that
    connects, the broadcast of a message) while another client subscribes: "dictionary changed
    size during iteration" then drops the connecting client. A copy per walk fixes that."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return list(super().items())


class EmbeddedBroker:
    """An amqtt broker in a background thread with its own event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 11883) -> None:
        self.target = MqttTarget(host=host, port=port, embedded=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once the broker accepts connections."""
        if self._thread is not None:
            return
        host, port = self.target.host, self.target.port
        require_free_port(host, port, "embedded MQTT broker", EMBEDDED_PORT_HINT)
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"embedded MQTT broker did not start within {timeout}s")
        if isinstance(self._error, OSError) and self._error.errno == errno.EADDRINUSE:
            raise PortInUse(host, port, "embedded MQTT broker", EMBEDDED_PORT_HINT) from self._error
        if self._error is not None:
            raise RuntimeError(f"embedded MQTT broker failed: {self._error}") from self._error
        log.info("embedded MQTT broker on %s", self.target.url())

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {
                "default": {
                    "type": "tcp",
                    "bind": f"{self.target.host}:{self.target.port}",
                    "max_connections": -1,
                }
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False},
            },
        }
        try:
            self._broker = Broker(config, loop=loop)
            self._broker._subscriptions = SubscriptionTable(self._broker._subscriptions)
            loop.run_until_complete(self._broker.start())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._broker is not None and self._error is None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop)
            try:
                future.result(timeout)
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.exception("embedded MQTT broker shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        self._ready.clear()


def no_delay(sock: Any) -> None:
    """Send small MQTT packets at once: without TCP_NODELAY, Nagle's algorithm and the peer's
    delayed ACK add ~40 ms to an ack that follows a PUBACK."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_embedded_if_configured(url: str) -> EmbeddedBroker | None:
    """Start the embedded broker when `url` is `embedded://...`; None for a real broker."""
    target = parse_mqtt_url(url)
    if not target.embedded:
        return None
    broker = EmbeddedBroker(target.host, target.port)
    broker.start()
    return broker
