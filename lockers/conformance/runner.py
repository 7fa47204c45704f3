"""The conformance runner: clauses, the suite's helpers, and running them in order.

A clause is one MUST of docs/locker-protocol.md, checked by a function that drives the locker
(commands over the broker, physical actions through the test hooks) and raises
`ClauseFailed` naming what the locker did wrong. Clauses run in the order they are declared
(lockers/conformance/clauses_*.py); some share one scenario (a link cut, a storage loss),
played by the first of them and judged by each.
"""

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lockers import protocol
from lockers.conformance.hooks import HookFailed, Hooks
from lockers.conformance.link import Received, ServerLink, utc_now


class ClauseFailed(AssertionError):
    """The locker broke the clause; the message says how."""


class ClauseSkipped(Exception):
    """The clause cannot be judged from the broker (the message says how to check it)."""


@dataclass(frozen=True)
class Clause:
    id: str  # the clause id of docs/locker-protocol.md, e.g. "L-7.1"
    title: str
    check: Callable[["Suite"], None]
    last: bool = False  # judged over everything the run saw, after the other clauses

    @property
    def section(self) -> str:
        return "§" + self.id.split("-")[1].split(".")[0]

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.id.split("-")[1].split("."))


CLAUSES: list[Clause] = []


def clause(
    clause_id: str, title: str, *, last: bool = False
) -> Callable[[Callable[["Suite"], None]], Any]:
    """Register a check as the clause `clause_id` (run in declaration order, `last` ones at
    the end)."""

    def register(check: Callable[["Suite"], None]) -> Callable[["Suite"], None]:
        CLAUSES.append(Clause(clause_id, title, check, last))
        return check

    return register


@dataclass
class Result:
    clause: Clause
    status: str  # pass / fail / error / skip
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.clause.id,
            "section": self.clause.section,
            "title": self.clause.title,
            "status": self.status,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
        }


def expect(condition: Any, message: str) -> None:
    if not condition:
        raise ClauseFailed(message)


@dataclass
class Options:
    timeout_s: float = 10.0  # how long an answer may take
    quiet_s: float = 2.0  # how long to watch for something that must NOT happen
    lockout_s: int = 10  # the keypad lockout the suite configures (seconds)
    will_timeout_s: float = 60.0  # the broker's last will comes after 1.5 keep-alives
    iterations: int = 10_000  # PBKDF2 iterations of the suite's code entries
    heartbeat_s: int = 5  # the heartbeat the suite configures (the smallest allowed)
    change_s: float = 2.5  # a change must show in a state sooner than a heartbeat
    labels: list[str] | None = None  # the provisioned layout, if given (L-5.3)
    probe_host: str = "127.0.0.1"  # where the locker reaches the suite's TLS impostor (L-2.4)


@dataclass
class Suite:
    """The suite's state while it runs, and the helpers clauses use."""

    link: ServerLink
    hooks: Hooks
    options: Options = field(default_factory=Options)
    free: list[str] = field(default_factory=list)  # compartments the suite may use
    holding: dict[str, int] = field(default_factory=dict)  # label -> parcel the suite put there
    pinned: set[str] = field(default_factory=set)  # holdings a scenario still needs
    notes: dict[str, Any] = field(default_factory=dict)  # what shared scenarios observed
    epoch_marks: list[int] = field(default_factory=list)  # where a storage loss began
    start_mark: int = 0
    rng: random.Random = field(default_factory=random.Random)

    @property
    def bank(self) -> str:
        return self.link.bank

    # --- state -----------------------------------------------------------------------------

    def state(self, *, after: int = 0, predicate: Callable[[Received], bool] | None = None) -> Any:
        """The first online state after `after` (matching `predicate`); fails on timeout."""
        found = self.link.wait_state(
            lambda m: m.get("online") is True and (predicate is None or predicate(m)),
            after=after,
            timeout=self.options.timeout_s + float(self.heartbeat_s()),
        )
        expect(found is not None, "no state (online: true) reflecting it arrived")
        return found

    def heartbeat_s(self) -> float:
        latest = self.link.latest_state()
        value = latest.get("heartbeat_s") if latest else None
        return float(value) if isinstance(value, int | float) else 30.0

    def configure_suite(self) -> None:
        """The settings the suite runs with: the keypad locks only in the lockout clause."""
        self.call_ok(
            "configure",
            {
                "keypad_max_attempts": 20,
                "keypad_lockout_s": int(self.options.lockout_s),
                "heartbeat_s": self.options.heartbeat_s,
            },
        )

    def compartment(self) -> str:
        """A compartment the suite may use, empty: one it never filled, else one whose test
        parcel it takes out again (not one a scenario still needs, in `pinned`)."""
        for label in self.free:
            if label not in self.holding:
                return label
        for label in self.free:
            if label not in self.pinned:
                self.retrieve(label)
                return label
        raise ClauseFailed("no free compartment left for the suite (it needs at least 3)")

    def retrieve(self, label: str) -> None:
        """A driver takes the suite's parcel out of `label` (its code revoked first)."""
        parcel_id = self.holding[label]
        self.call_ok("revoke_code", {"parcel_id": parcel_id})
        mark = self.link.mark()
        self.call_ok(
            "open_compartment",
            {"compartment": label, "purpose": "retrieve", "parcel_id": parcel_id},
        )
        self.event("door_opened", after=mark, compartment=label)
        self.act("close_door", compartment=label, parcel_present=False)
        self.event("door_closed", after=mark, compartment=label)
        self.holding.pop(label, None)

    # --- commands --------------------------------------------------------------------------

    def call_ok(self, kind: str, args: dict[str, Any] | None = None, **kw: Any) -> Received:
        body, ack = self.link.call(kind, args, timeout=self.options.timeout_s, **kw)
        expect(ack is not None, f"no ack to {kind} {body['command_id']}")
        assert ack is not None
        expect(
            ack.get("status") == "ok",
            f"{kind} acked {ack.get('status')}/{ack.get('error')} instead of ok",
        )
        return ack

    def call_error(self, kind: str, args: dict[str, Any], error: str, **kw: Any) -> Received:
        body, ack = self.link.call(kind, args, timeout=self.options.timeout_s, **kw)
        expect(ack is not None, f"no ack to {kind} {body['command_id']}")
        assert ack is not None
        expect(
            ack.get("status") == "error" and ack.get("error") == error,
            f"{kind} acked {ack.get('status')}/{ack.get('error')}, expected error/{error}",
        )
        return ack

    def event(self, kind: str, *, after: int, **fields: Any) -> Received:
        found = self.link.wait_event(kind, after=after, timeout=self.options.timeout_s, **fields)
        expect(found is not None, f"no {kind} event ({fields or 'any'}) arrived")
        return found  # type: ignore[no-any-return]

    def no_event(self, kinds: Iterable[str], *, after: int, why: str) -> None:
        """Watch `quiet_s` and fail if an event of `kinds` arrives after `after`."""
        wanted = set(kinds)
        found = self.link.wait(
            lambda m: m.channel == "events" and m.get("type") in wanted,
            after=after,
            timeout=self.options.quiet_s,
        )
        expect(found is None, f"{why}, yet the locker sent {found.get('type') if found else ''}")

    def act(self, action: str, **args: Any) -> None:
        try:
            self.hooks.perform(action, **args)
        except HookFailed as exc:
            raise ClauseFailed(f"test hook failed: {exc}") from exc

    # --- parcels and codes -----------------------------------------------------------------

    def new_parcel(self) -> int:
        return self.rng.randrange(900_000_000, 999_999_999)

    def new_code(self) -> str:
        return f"{self.rng.randrange(0, 1_000_000):06d}"

    def code_entry(
        self, parcel_id: int, label: str, code: str, *, lifetime_s: float = 3600
    ) -> dict[str, Any]:
        salt = protocol.new_salt()
        return {
            "parcel_id": parcel_id,
            "compartment": label,
            "salt": salt,
            "hash": protocol.locker_code_hash(
                code, salt_hex=salt, iterations=self.options.iterations
            ),
            "iterations": self.options.iterations,
            "expires_at": protocol.utc_iso(utc_now() + timedelta(seconds=lifetime_s)),
        }

    def load_code(self, parcel_id: int, label: str, *, lifetime_s: float = 3600) -> str:
        code = self.new_code()
        entry = self.code_entry(parcel_id, label, code, lifetime_s=lifetime_s)
        self.call_ok("load_codes", {"codes": [entry]})
        return code

    def deposit(self, label: str, parcel_id: int) -> None:
        """A driver's deposit: the opening, the parcel in, the door closed."""
        mark = self.link.mark()
        self.call_ok(
            "open_compartment", {"compartment": label, "purpose": "deposit", "parcel_id": parcel_id}
        )
        self.event("door_opened", after=mark, compartment=label)
        self.act("close_door", compartment=label, parcel_present=True)
        closed = self.event("door_closed", after=mark, compartment=label)
        expect(
            (closed.get("data") or {}).get("parcel_present") is True,
            "door_closed after a deposit does not say parcel_present: true",
        )
        self.holding[label] = parcel_id

    def parcel_with_code(self) -> tuple[str, int, str]:
        """A parcel deposited in a free compartment with its code loaded: (label, id, code)."""
        label, parcel_id = self.compartment(), self.new_parcel()
        code = self.load_code(parcel_id, label)
        self.deposit(label, parcel_id)
        return label, parcel_id, code

    def type_code(self, code: str) -> int:
        """Type a code at the keypad; the record's mark from before it."""
        mark = self.link.mark()
        self.act("enter_code", code=code)
        return mark

    def expect_pickup(self, mark: int, label: str, parcel_id: int, method: str) -> list[Received]:
        """The pickup after `mark`: parcel_collected, then (the door closed by the resident)
        door_closed without the parcel; the events from `mark` to that door_closed."""
        collected = self.event("parcel_collected", after=mark, compartment=label)
        expect(collected.get("parcel_id") == parcel_id, "parcel_collected names another parcel")
        expect(
            (collected.get("data") or {}).get("method") == method,
            f"parcel_collected method is not {method}",
        )
        self.holding.pop(label, None)
        self.pinned.discard(label)
        self.act("close_door", compartment=label, parcel_present=False)
        closed = self.event("door_closed", after=collected.index, compartment=label)
        expect(
            (closed.get("data") or {}).get("parcel_present") is False,
            "the pickup's door_closed does not say parcel_present: false",
        )
        return [e for e in self.link.events_since(mark) if e.index <= closed.index]

    def settle(self) -> None:
        """Give late messages (a second ack, a replay) time to arrive."""
        time.sleep(self.options.quiet_s)

    def wrong(self, code: str, step: int = 1) -> str:
        """Another 6-digit code than `code`."""
        return f"{(int(code) + step) % 1_000_000:06d}"

    def rejected(self, mark: int, reason: str) -> Received:
        """The code_rejected after `mark`; fails unless its data.reason is `reason`."""
        found = self.event("code_rejected", after=mark)
        data = found.get("data") or {}
        expect(
            data.get("reason") == reason,
            f"code_rejected reason is {data.get('reason')!r}, not {reason!r}",
        )
        expect(isinstance(data.get("failed_attempts"), int), "code_rejected lacks failed_attempts")
        return found

    def expect_refused(self, mark: int, why: str) -> None:
        self.no_event(("parcel_collected",), after=mark, why=why)
        opened = [
            e for e in self.link.events_since(mark, "door_opened") if e.get("parcel_id") is not None
        ]
        expect(not opened, f"{why}, yet a door opened")


def run(
    suite: Suite,
    clauses: list[Clause],
    progress: Callable[[Clause, Result | None], None] = lambda _c, _r: None,
) -> list[Result]:
    """Run the clauses in order; `progress` hears each start (None) and each result."""
    results = []
    for item in sorted(clauses, key=lambda c: c.last):
        progress(item, None)
        started = time.monotonic()
        try:
            item.check(suite)
            result = Result(item, "pass")
        except ClauseFailed as exc:
            result = Result(item, "fail", str(exc))
        except ClauseSkipped as exc:
            result = Result(item, "skip", str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken clause is reported, not fatal
            result = Result(item, "error", f"{type(exc).__name__}: {exc}")
        result.seconds = time.monotonic() - started
        results.append(result)
        progress(item, result)
    return sorted(results, key=lambda r: r.clause.sort_key)
