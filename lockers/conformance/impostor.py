"""A broker impostor for [L-2.4]: a TLS listener whose certificate is valid for its address but
signed by a CA the locker was never provisioned with.

The suite asks the locker (test action `connect_probe`) to connect to it once as it would to its
broker in the field, then judges by what reached the listener, never by the locker's word:
plaintext MQTT fails (no TLS); a TLS handshake the locker completes and follows with an MQTT
CONNECT fails (it did not check the certificate against its CA); a handshake the locker aborts
passes.
"""

import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from lockers.pki import broker_certificate

TLS_HANDSHAKE_RECORD = 0x16
MQTT_CONNECT = 0x10


@dataclass
class Verdict:
    attempted: bool = False  # something connected
    tls: bool = False  # and began with a TLS handshake
    accepted: bool = False  # and finished it and spoke MQTT: the impostor was trusted
    detail: str = "no connection reached the impostor"


class ImpostorBroker:
    """Listens on `host` (an ephemeral port) for one connection; `verdict` once it is judged."""

    def __init__(self, host: str, *, timeout_s: float) -> None:
        self.host = host
        self.timeout_s = timeout_s
        self.verdict = Verdict()
        self._folder = tempfile.TemporaryDirectory(prefix="impostor-ca-")
        cert, key = broker_certificate(Path(self._folder.name), host)  # a stranger CA signs it
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(timeout_s)
        self.port: int = self._listener.getsockname()[1]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve_one, name="impostor", daemon=True)

    def __enter__(self) -> "ImpostorBroker":
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        self._thread.join(self.timeout_s)
        self._folder.cleanup()

    def wait(self) -> Verdict:
        """The verdict once the connection was judged (or the listener timed out)."""
        self._done.wait(self.timeout_s * 2)
        return self.verdict

    def _serve_one(self) -> None:
        try:
            conn, _peer = self._listener.accept()
        except OSError:
            self._done.set()
            return
        with conn:
            conn.settimeout(self.timeout_s)
            self._judge(conn)
        self._done.set()

    def _judge(self, conn: socket.socket) -> None:
        verdict = self.verdict
        verdict.attempted = True
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except OSError as exc:
            verdict.detail = f"the connection closed before a byte was sent ({exc})"
            return
        if not first or first[0] != TLS_HANDSHAKE_RECORD:
            verdict.detail = f"the locker spoke without TLS (first byte {first.hex() or 'none'})"
            return
        verdict.tls = True
        try:
            secured = self._context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            verdict.detail = f"the locker refused the impostor's certificate ({exc})"
            return
        try:
            packet = secured.recv(1)
        except (ssl.SSLError, OSError) as exc:
            verdict.detail = f"the locker ended the connection after the handshake ({exc})"
            return
        if packet and packet[0] & 0xF0 == MQTT_CONNECT:
            verdict.accepted = True
            verdict.detail = "the locker sent CONNECT to a broker its CA did not sign"
        else:
            verdict.detail = "the locker ended the connection after the handshake"
