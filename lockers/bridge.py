"""The MQTT bridge: a long-running process between the database and every locker bank.

- Subscribes (QoS 1) to every bank's state, events and acks with a persistent session
  (fixed client id, clean_session=False), so nothing sent while it was away is lost. Two
  workers (`lockers.bridge_ingest`) store what arrives (acks in a lane of their own), in
  batches of one transaction each; a message is acknowledged to the broker only after its
  transaction committed.
- Sends commands from the durable outbox table, re-sending with the same id until the locker
  acks or the command expires; a command counts as delivered only on the locker's ack.
- Marks banks offline from their last will and from a heartbeat timeout; expires commands,
  checks cold-chain excursions, takes in reservations and expires overdue parcels.
- Reconnects by itself (paho's reconnect loop) after a broker restart.
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import get_sessionmaker, utcnow
from app.core.settings import get_settings
from lockers import coldchain, event_seq, expiry, ingest, intake, outbox, protocol, wakeup
from lockers.bridge_ingest import CommandCallback, Incoming, IngestWorkers
from lockers.broker import EmbeddedBroker, no_delay, parse_mqtt_url
from lockers.command_queue import NOTIFY_CHANNEL
from lockers.config import LockerSettings, get_locker_settings

log = logging.getLogger(__name__)

_BACKLOG = 100  # incoming messages waiting: hold re-sends until the bridge catches up


class Bridge:
    """Database <-> MQTT for all locker banks. `start()` runs it in background threads."""

    def __init__(
        self,
        *,
        mqtt_url: str | None = None,
        session_factory: sessionmaker[Session] | None = None,
        client_id: str | None = None,
        topic_prefix: str | None = None,
        settings: LockerSettings | None = None,
        start_embedded_broker: bool = True,
        housekeeping: bool = True,
        on_command_finished: CommandCallback | None = None,
    ) -> None:
        self.settings = settings or get_locker_settings()
        self.target = parse_mqtt_url(mqtt_url or get_settings().mqtt_url, self.settings)
        self.sessions = session_factory or get_sessionmaker()
        self.client_id = client_id or self.settings.bridge_client_id
        self.prefix = topic_prefix or self.settings.topic_prefix
        self.housekeeping = housekeeping
        self.on_command_finished = on_command_finished
        self.stats: Counter[str] = Counter()
        self._start_embedded = start_embedded_broker and self.target.embedded
        self._embedded: EmbeddedBroker | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connected = threading.Event()
        self._connected_since: float | None = None
        self._client = self._make_client(clean=False)
        self._ingest = IngestWorkers(
            sessions=self.sessions,
            stats=self.stats,
            acknowledge=lambda mid, qos: self._client.ack(mid, qos),
            on_command_finished=on_command_finished,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def _make_client(self, *, clean: bool) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean,
            protocol=mqtt.MQTTv311,
        )
        # amqtt keeps sessions only for named clients; Mosquitto checks the password file.
        client.username_pw_set(self.target.username or self.client_id, self.target.password)
        if self.target.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = lambda _c, _u, sock: no_delay(sock)
        return client

    def start(self) -> "Bridge":
        """Connect (in the background, retrying) and start the sender and listener threads."""
        if self._start_embedded:
            self._embedded = EmbeddedBroker(self.target.host, self.target.port)
            self._embedded.start()
        self._client.connect_async(
            self.target.host, self.target.port, keepalive=self.settings.mqtt_keepalive_seconds
        )
        self._client.loop_start()
        wakeup.register(self.wake)
        self._spawn(
            "locker-bridge-ingest", lambda: self._ingest.run(self._ingest.inbox, self._stop)
        )
        self._spawn(
            "locker-bridge-acks", lambda: self._ingest.run(self._ingest.ack_inbox, self._stop)
        )
        self._spawn("locker-bridge-sender", self._sender_loop)
        self._spawn("locker-bridge-tick", self._tick_loop)
        if self._dialect() == "postgresql":
            self._spawn("locker-bridge-listen", self._listen_loop)
        log.info(
            "locker bridge %s -> %s (prefix %s)", self.client_id, self.target.url(), self.prefix
        )
        return self

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Block until connected to the broker (True) or the timeout passed (False)."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up now."""
        return self._connected.is_set()

    def wake(self) -> None:
        """Look for due commands now (new commands were committed)."""
        self._wake.set()

    def stop(self, *, purge_session: bool = False) -> None:
        """Stop the threads and disconnect; `purge_session` also drops the broker session."""
        self._stop.set()
        self._wake.set()
        wakeup.unregister(self.wake)
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        self._client.disconnect()
        self._client.loop_stop()
        if purge_session:
            self._purge_session()
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    def _purge_session(self) -> None:
        client = self._make_client(clean=True)
        client.on_connect = None
        client.on_message = None
        try:
            client.connect(self.target.host, self.target.port, keepalive=5)
            client.loop_start()
            time.sleep(0.2)
            client.disconnect()
            client.loop_stop()
        except OSError:
            log.warning("could not purge the bridge's broker session")

    def run_forever(self, report: Callable[["Bridge"], None] | None = None) -> None:
        """Run until interrupted (Ctrl-C / SIGTERM); `report` is called every few seconds."""
        self.start()
        try:
            while not self._stop.wait(5.0):
                if report is not None:
                    report(self)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _dialect(self) -> str:
        bind = self.sessions.kw.get("bind")
        return str(bind.dialect.name) if bind is not None else ""

    # --- MQTT callbacks (paho's network thread) ----------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the bridge: %s", reason)
            return
        subscriptions = [
            (protocol.subscription(self.prefix, channel), protocol.QOS)
            for channel in (protocol.Channel.STATE, protocol.Channel.EVENTS, protocol.Channel.ACKS)
        ]
        client.subscribe(subscriptions)
        self._connected_since = time.monotonic()
        self._connected.set()
        self.stats["connects"] += 1
        log.info("bridge connected (session present: %s)", flags.session_present)
        try:
            with self.sessions() as db_session:
                outbox.resend_all_sent(db_session=db_session)
                db_session.commit()
        except DBAPIError:
            log.exception("could not schedule re-sends after connecting")
        self._wake.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        self._connected_since = None
        self.stats["disconnects"] += 1
        if not self._stop.is_set():
            log.warning("bridge lost the broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        parsed = protocol.parse_topic(self.prefix, message.topic)
        if parsed is None or parsed[1] == protocol.Channel.COMMANDS:
            client.ack(message.mid, message.qos)
            return
        self._ingest.put(
            Incoming(
                parsed[0], parsed[1], bytes(message.payload), message.mid, message.qos, utcnow()
            )
        )

    def backlog(self) -> int:
        """Incoming messages received but not yet stored."""
        return self._ingest.backlog()

    # --- sender thread -----------------------------------------------------------------------

    def _sender_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.poll_interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self._connected.is_set():
                    self.send_due()
            except Exception:
                log.exception("bridge sender failed a round; retrying")
                time.sleep(0.5)

    def _tick_loop(self) -> None:
        """Timers apart from the sender, so a slow tick never delays a command."""
        next_housekeeping = time.monotonic() + 1.0
        while not self._stop.wait(self.settings.tick_seconds):
            try:
                self.tick()
                if self.housekeeping and time.monotonic() >= next_housekeeping:
                    next_housekeeping = time.monotonic() + self.settings.housekeeping_seconds
                    self.run_housekeeping()
            except Exception:
                log.exception("bridge tick failed; retrying")

    def send_due(self) -> int:
        """Publish every due command (claimed in the outbox first); how many."""
        caught_up = self.backlog() < _BACKLOG
        with self.sessions() as db_session:
            due = outbox.claim_due(db_session=db_session, resends=caught_up)
            for item in due:
                self._client.publish(
                    protocol.topic(self.prefix, item.topic_bank, protocol.Channel.COMMANDS),
                    item.payload,
                    qos=self.settings.command_qos,
                )
                self.stats["resent" if item.attempt > 1 else "sent"] += 1
            db_session.commit()
        if len(due) >= 200:
            self._wake.set()
        return len(due)

    def tick(self) -> None:
        """Expire commands, take silent banks offline, re-check cold-chain excursions."""
        with self.sessions() as db_session:
            for command_id in outbox.expire_overdue(db_session=db_session):
                self.stats["expired"] += 1
                if self.on_command_finished is not None:
                    db_session.commit()
                    self.on_command_finished(command_id, "expired")
            since = self._connected_since
            settled = since is not None and (
                time.monotonic() - since >= self.settings.offline_after_seconds
            )
            # Behind on incoming messages, silence and gaps may just be our own backlog.
            caught_up = self.backlog() < _BACKLOG
            if settled and caught_up:
                self.stats["went_silent"] += len(ingest.offline_silent_banks(db_session=db_session))
            if caught_up:
                self.stats["replays_asked"] += len(
                    event_seq.request_missing_events(db_session=db_session)
                )
            coldchain.check_all(db_session=db_session)
            db_session.commit()

    def run_housekeeping(self) -> None:
        """Take in new reservations (codes to lockers) and expire overdue parcels."""
        with self.sessions() as db_session:
            self.stats["reservations"] += intake.consume_reservations(db_session=db_session)
            self.stats["parcels_expired"] += len(expiry.expire_overdue(db_session=db_session))

    # --- PostgreSQL LISTEN -------------------------------------------------------------------

    def _listen_loop(self) -> None:
        import psycopg

        bind = self.sessions.kw["bind"]
        dsn = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._wake.set()
            except psycopg.Error:
                log.exception("bridge LISTEN connection failed; retrying")
                self._stop.wait(1.0)
