"""The simulator's test-mode hook listener: `{prefix}/{bank}/test` -> the virtual bank's controls.

It runs on an MQTT connection of its own (client id `{bank}-test`), as a vendor's test harness
would, so it keeps answering while the locker's own link is cut.
"""

import contextlib
import json
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lockers.broker import MqttTarget
from lockers.simulator import VirtualBank


class SimHookListener:
    """Performs test actions on one `VirtualBank` (see lockers/conformance/hooks.py)."""

    def __init__(
        self,
        bank: VirtualBank,
        target: MqttTarget,
        *,
        prefix: str,
        field_ca_file: str | None = None,
        verify_broker: bool = True,
    ) -> None:
        """`field_ca_file`: the CA the locker was provisioned with (None: the system's trust
        store); `verify_broker=False` makes a locker that breaks [L-2.4], for the suite's tests."""
        self.bank = bank
        self.field_ca_file = field_ca_file
        self.verify_broker = verify_broker
        self.topic = f"{prefix}/{bank.code}/test"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{bank.code}-test", clean_session=True
        )
        self.client.username_pw_set(target.username or f"{bank.code}-test", target.password)
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.on_message = self._on_message
        self.target = target

    def start(self) -> "SimHookListener":
        self.client.connect(self.target.host, self.target.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            request = json.loads(message.payload)
            hook_id = str(request["hook_id"])
        except (ValueError, KeyError, TypeError):
            return
        answer: dict[str, Any] = {"v": 1, "hook_id": hook_id, "ok": True}
        try:
            self.perform(str(request.get("action")), dict(request.get("args") or {}))
        except (KeyError, ValueError, TypeError) as exc:
            answer.update(ok=False, detail=f"{type(exc).__name__}: {exc}")
        client.publish(f"{self.topic}/done", json.dumps(answer), qos=1)

    def perform(self, action: str, args: dict[str, Any]) -> None:
        bank = self.bank
        if action == "enter_code":
            bank.enter_code(str(args["code"]))
        elif action == "scan_qr":
            bank.scan_qr(str(args["text"]))
        elif action == "close_door":
            label = str(args["compartment"])
            if bank.snapshot()["compartments"][label]["door_open"]:  # else nothing to close
                bank.close_door(label, parcel_present=bool(args["parcel_present"]))
        elif action == "jam_door":
            bank.jam_door(str(args["compartment"]), jammed=bool(args["jammed"]))
        elif action == "drop_link":
            bank.drop_link(float(args["seconds"]))
        elif action == "connect_probe":
            self.connect_as_in_the_field(str(args["host"]), int(args["port"]))
        elif action == "restart":
            # Down for a second, as a controller's reboot is: the broker has finished with
            # the old connection (its DISCONNECT, or its will) before the new one arrives.
            bank.restart(
                keep_storage=bool(args["keep_storage"]), graceful=bool(args["clean"]), down_s=1.0
            )
        else:
            raise ValueError(f"unknown action {action!r}")

    def connect_as_in_the_field(self, host: str, port: int) -> None:
        """One connection to host:port as the locker makes to its broker on site: TLS, the
        broker's certificate checked against the provisioned CA, then CONNECT."""
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.bank.code}-probe")
        client.tls_set(
            ca_certs=self.field_ca_file,
            cert_reqs=ssl.CERT_REQUIRED if self.verify_broker else ssl.CERT_NONE,
        )
        client.tls_insecure_set(not self.verify_broker)
        try:
            client.connect(host, port, keepalive=5)  # the TLS handshake happens here
            for _ in range(3):
                client.loop(timeout=0.2)  # CONNECT goes out
        except (ssl.SSLError, OSError):
            pass  # refused, as it must be for a broker the CA did not sign
        finally:
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop(timeout=0.1)
