"""The fleet of virtual locker banks: many banks on ONE thread and one selector.

Each bank has its own MQTT connection (its own client id, credentials and last will, as real
hardware would), and all sockets are multiplexed with a selector through paho's external-loop
API (`loop_read`/`loop_write`/`loop_misc`), so 1,000 banks cost one thread and ~3 file
descriptors each. Everything a bank does runs on the fleet's thread; public methods marshal
the call there.
"""

import contextlib
import heapq
import itertools
import logging
import random
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import paho.mqtt.client as mqtt

from lockers.broker import MqttTarget, no_delay
from lockers.sim_locker import BankSpec

if TYPE_CHECKING:
    from lockers.simulator import VirtualBank

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Timer:
    at: float
    seq: int
    fn: Callable[[], None] = field(compare=False)

    def __lt__(self, other: "_Timer") -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


class Fleet:
    """Many virtual banks on one thread and one selector."""

    def __init__(
        self,
        target: MqttTarget,
        *,
        prefix: str = "lockers",
        heartbeat_s: float = 30.0,
        keepalive_s: int = 30,
        auto_close_s: float | None = 0.05,
        keypad_max_attempts: int = 5,
        keypad_lockout_s: float = 900.0,
        reconnect_min_s: float = 0.2,
        reconnect_max_s: float = 2.0,
        seed: int = 0,
        storage_dir: str | None = None,
    ) -> None:
        self.target = target
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self.keepalive_s = keepalive_s
        self.auto_close_s = auto_close_s
        self.keypad_max_attempts = keypad_max_attempts
        self.keypad_lockout_s = keypad_lockout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.random = random.Random(seed)
        # Where each bank keeps its non-volatile storage across runs (None: in memory only).
        self.storage_dir = storage_dir
        self.banks: dict[str, VirtualBank] = {}
        self.stats: Counter[str] = Counter()
        self._selector = selectors.DefaultSelector()
        self._timers: list[_Timer] = []
        self._timer_seq = itertools.count()
        self._calls: list[Callable[[], None]] = []
        self._calls_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread: threading.Thread | None = None
        self._running = False

    # --- building and running ----------------------------------------------------------------

    def add_bank(self, spec: BankSpec) -> "VirtualBank":
        """Add a bank (connects when the fleet runs)."""
        from lockers.simulator import VirtualBank

        bank = VirtualBank(self, spec)
        self.banks[spec.code] = bank
        if self._running:
            self.call(bank.connect)
        return bank

    def start(self) -> "Fleet":
        """Start the fleet's thread; every bank connects."""
        self._running = True
        self._thread = threading.Thread(target=self._run, name="locker-fleet", daemon=True)
        self._thread.start()
        banks = list(self.banks.values())
        for index, bank in enumerate(banks):
            # Spread connections a little so 1,000 banks do not hit the broker in one burst.
            self.schedule(index * 0.001, bank.connect)
        return self

    def stop(self, *, graceful: bool = True) -> None:
        """Disconnect every bank (cleanly unless `graceful` is False) and stop the thread."""
        if not self._running:
            return
        done = threading.Event()

        def _shutdown() -> None:
            for bank in self.banks.values():
                bank.shutdown(graceful=graceful)
                bank._save_storage()
            done.set()

        self.post(_shutdown)
        done.wait(10)
        time.sleep(0.1)
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def wait_online(self, timeout: float = 30.0, codes: list[str] | None = None) -> bool:
        """Block until the given (or all) banks have a connection."""
        wanted = [self.banks[c] for c in codes] if codes else list(self.banks.values())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(b.connected for b in wanted):
                return True
            time.sleep(0.02)
        return False

    def restart_bank(self, code: str, *, keep_storage: bool = False) -> "VirtualBank":
        """Power-cycle one bank (see `VirtualBank.restart`); the bank."""
        bank = self.banks[code]
        bank.restart(keep_storage=keep_storage)
        return bank

    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the fleet's thread soon."""
        with self._calls_lock:
            self._calls.append(fn)
        self._wake()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run `fn(*args)` on the fleet's thread and return its result."""
        if threading.current_thread() is self._thread or not self._running:
            return fn(*args)
        box: dict[str, Any] = {}
        done = threading.Event()

        def _run() -> None:
            try:
                box["value"] = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                box["error"] = exc
            finally:
                done.set()

        self.post(_run)
        if not done.wait(timeout):
            raise TimeoutError("the fleet thread did not answer")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the fleet's thread after `delay` seconds (call from the thread, or post)."""
        timer = _Timer(time.monotonic() + delay, next(self._timer_seq), fn)
        if threading.current_thread() is self._thread:
            heapq.heappush(self._timers, timer)
        else:
            self.post(lambda: heapq.heappush(self._timers, timer))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        next_misc = time.monotonic() + 1.0
        while self._running:
            now = time.monotonic()
            timeout = 0.2
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0].at - now))
            try:
                events = self._selector.select(timeout)
            except OSError:
                events = []
            for key, mask in events:
                if key.data is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            with self._calls_lock:
                calls, self._calls = self._calls, []
            for fn in calls:
                self._guard(fn)
            now = time.monotonic()
            while self._timers and self._timers[0].at <= now:
                self._guard(heapq.heappop(self._timers).fn)
            if now >= next_misc:
                next_misc = now + 1.0
                for bank in list(self.banks.values()):
                    if bank.connected:
                        bank.client.loop_misc()

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("simulator step failed")
            self.stats["errors"] += 1

    # --- paho socket callbacks ---------------------------------------------------------------

    def _socket_open(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        no_delay(sock)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _socket_want_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _socket_done_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(sock, selectors.EVENT_READ, client)

    def summary(self) -> dict[str, Any]:
        """Counts across the fleet (commands received/executed, duplicates, events...)."""
        executions = Counter[str]()
        for bank in self.banks.values():
            executions.update(bank.executions)
        totals: Counter[str] = Counter(self.stats)
        for bank in self.banks.values():
            totals.update(bank.stats)
        return {
            "banks": len(self.banks),
            "online": sum(1 for b in self.banks.values() if b.connected),
            "commands_executed": sum(executions.values()),
            "commands_executed_twice": sum(1 for n in executions.values() if n > 1),
            **dict(totals),
        }
