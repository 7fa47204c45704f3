"""Test hooks: how the conformance suite makes physical things happen at the locker under test.

A protocol test needs a driver closing a door with a parcel inside, a resident typing a code,
a cable pulled, a power cut. The suite asks for them through a `Hooks` object and then judges
the locker only by what it publishes (events, acks, state), never by the hook's answer.

Two implementations (docs/locker-protocol.md, "Conformance suite"):

- `MqttHooks`: the locker in test mode (or a harness wired to its inputs) listens on
  `{prefix}/{bank}/test` for `{"v":1,"hook_id":"...","action":"...","args":{...}}` and answers
  on `{prefix}/{bank}/test/done` with `{"v":1,"hook_id":"...","ok":true}` once the action is
  done (`"ok": false, "detail": "..."` if it cannot). The listener must use an MQTT connection
  of its own, since it is asked to cut the locker's link.
- `OperatorHooks`: prints each action for a person at the locker and waits for Enter.
"""

import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

from lockers.conformance.link import ServerLink, new_id

# action -> (argument names, what a person at the locker does)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "enter_code": (("code",), "type the code {code} on the keypad"),
    "scan_qr": (("text",), "show a QR code reading {text} to the scanner"),
    "close_door": (
        ("compartment", "parcel_present"),
        "close the door of {compartment} if it is open (a parcel inside: {parcel_present})",
    ),
    "jam_door": (("compartment", "jammed"), "jam (jammed=True) or free the door of {compartment}"),
    "drop_link": (("seconds",), "cut the locker's network abruptly for {seconds} s"),
    "connect_probe": (
        ("host", "port"),
        "make the locker connect once to {host}:{port} as to its broker in the field "
        "(TLS, checking the certificate against its provisioned CA)",
    ),
    "restart": (
        ("keep_storage", "clean"),
        "restart the controller: a clean shutdown ({clean}) or a power cut; keep its "
        "non-volatile storage: {keep_storage} (False: wipe it, as a storage loss)",
    ),
}


class HookFailed(RuntimeError):
    """The locker (or its operator) could not perform a test action."""


class Hooks(Protocol):
    def perform(self, action: str, **args: Any) -> None:
        """Make `action` happen at the locker; raise HookFailed if it cannot be done."""
        ...


def _check(action: str, args: dict[str, Any]) -> None:
    if action not in ACTIONS:
        raise HookFailed(f"unknown test action {action!r}")
    missing = [name for name in ACTIONS[action][0] if name not in args]
    if missing:
        raise HookFailed(f"{action} needs {', '.join(missing)}")


class MqttHooks:
    """Test actions requested over the broker (`{prefix}/{bank}/test`)."""

    def __init__(self, link: ServerLink, *, timeout: float = 20.0) -> None:
        self.link = link
        self.timeout = timeout
        self._answers: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        link.subscribe_extra(link.topic("test/done"), self._on_done)

    def _on_done(self, message: Any) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(body, dict) and isinstance(body.get("hook_id"), str):
            with self._cond:
                self._answers[body["hook_id"]] = body
                self._cond.notify_all()

    def perform(self, action: str, **args: Any) -> None:
        _check(action, args)
        hook_id = new_id("hook")
        payload = {"v": 1, "hook_id": hook_id, "action": action, "args": args}
        self.link.client.publish(self.link.topic("test"), json.dumps(payload), qos=1)
        with self._cond:
            if not self._cond.wait_for(lambda: hook_id in self._answers, self.timeout):
                raise HookFailed(
                    f"no answer on {self.link.topic('test/done')} to {action} within "
                    f"{self.timeout:.0f}s (is the locker in test mode?)"
                )
            answer = self._answers.pop(hook_id)
        if answer.get("ok") is not True:
            raise HookFailed(f"{action}: {answer.get('detail') or 'refused'}")


class OperatorHooks:
    """Test actions done by a person at the locker, prompted on the console."""

    def __init__(
        self,
        ask: Callable[[str], str] = input,
        say: Callable[[str], None] = print,
    ) -> None:
        self.ask = ask
        self.say = say

    def perform(self, action: str, **args: Any) -> None:
        _check(action, args)
        instruction = ACTIONS[action][1].format(**args)
        answer = self.ask(f"  >> {instruction}; then press Enter (or type 'no' if you cannot) ")
        if answer.strip().lower() in ("n", "no"):
            raise HookFailed(f"the operator could not {instruction}")
