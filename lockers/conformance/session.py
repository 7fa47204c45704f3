"""One conformance run: connect as the server, prepare the locker, run the clauses, tidy up.

`run_conformance` is what `pickup lockers conformance` and the tests call. Preparing sets the
keypad so that the suite's wrong codes lock it only in the lockout clause; tidying takes the
suite's parcels out again, forgets their codes and puts the settings back to §7's defaults.
"""

import contextlib
import random
from collections.abc import Callable
from typing import Any

from lockers.conformance import (  # noqa: F401 - registers the clauses, in this order
    clauses_codes,
    clauses_commands,
    clauses_records,
    clauses_storage,
    clauses_transport,
)
from lockers.conformance.hooks import Hooks
from lockers.conformance.link import ServerLink
from lockers.conformance.runner import CLAUSES, Clause, ClauseFailed, Options, Result, Suite, run

DEFAULT_SETTINGS = {"keypad_max_attempts": 5, "keypad_lockout_s": 900, "heartbeat_s": 30}
MIN_FREE_COMPARTMENTS = 3


# The order clauses run in: the link cut and restarts after the commands and codes, the
# storage loss last (it forgets what the others set up), then the checks of the whole record.
RUN_ORDER = [
    clauses_commands.__name__,
    clauses_codes.__name__,
    clauses_transport.__name__,
    clauses_storage.__name__,
    clauses_records.__name__,
]


def select_clauses(only: list[str] | None = None) -> list[Clause]:
    """Every clause in run order, or those whose id is in `only` or starts with one of its
    items followed by a dot (`L-9` selects L-9.1 ... L-9.9)."""
    chosen = [
        c
        for c in CLAUSES
        if not only or any(c.id == item or c.id.startswith(item + ".") for item in only)
    ]
    return sorted(chosen, key=lambda c: RUN_ORDER.index(c.check.__module__))


def prepare(suite: Suite) -> None:
    """Wait for the locker's state, choose the compartments to use, set the keypad up."""
    state = suite.link.wait_state(
        lambda m: m.get("online") is True, timeout=suite.options.will_timeout_s
    )
    if state is None:
        raise ClauseFailed(
            f"no state with online: true on {suite.link.topic('state')}: is the locker "
            "connected, and is the topic prefix right?"
        )
    compartments = state.get("compartments") or {}
    suite.free = sorted(
        label
        for label, report in compartments.items()
        if isinstance(report, dict)
        and report.get("door") == "closed"
        and report.get("occupied") is False
        and report.get("out_of_service") is False
    )
    if len(suite.free) < MIN_FREE_COMPARTMENTS:
        raise ClauseFailed(
            f"the suite needs {MIN_FREE_COMPARTMENTS} empty, closed, in-service compartments; "
            f"the state shows {suite.free}"
        )
    suite.start_mark = state.index
    suite.epoch_marks = [state.index]
    suite.configure_suite()


def tidy(suite: Suite) -> None:
    """Take out what the suite deposited, forget its codes, restore the default settings."""
    for label in list(suite.holding):
        with contextlib.suppress(ClauseFailed, AssertionError):
            suite.retrieve(label)
    with contextlib.suppress(ClauseFailed, AssertionError):
        suite.call_ok("configure", dict(DEFAULT_SETTINGS))


def run_conformance(
    link: ServerLink,
    hooks: Hooks | Callable[[ServerLink], Hooks],
    *,
    options: Options | None = None,
    only: list[str] | None = None,
    progress: Callable[[Clause, Result | None], None] = lambda _c, _r: None,
    seed: int | None = None,
) -> list[Result]:
    """Run the suite against the bank `link` is for; the results in clause order.

    A locker that cannot be prepared (offline, too few empty compartments) fails every clause
    with the reason, so the run still reports and exits non-zero.
    """
    link.start()
    try:
        suite = Suite(
            link=link,
            hooks=hooks(link) if callable(hooks) else hooks,
            options=options or Options(),
            rng=random.Random(seed),
        )
        chosen = select_clauses(only)
        try:
            prepare(suite)
        except ClauseFailed as exc:
            return [Result(c, "fail", f"not prepared: {exc}") for c in chosen]
        try:
            return run(suite, chosen, progress)
        finally:
            tidy(suite)
    finally:
        link.stop()


def summary(results: list[Result]) -> dict[str, Any]:
    """Counts per status; `ok` when nothing failed (a skipped clause is checked on site)."""
    counts = {
        status: sum(1 for r in results if r.status == status)
        for status in ("pass", "fail", "error", "skip")
    }
    return {"clauses": len(results), **counts, "ok": counts["fail"] + counts["error"] == 0}
