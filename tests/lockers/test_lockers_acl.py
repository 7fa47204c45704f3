"""The broker ACL: a locker may publish only under its own bank id (Mosquitto of our own,
with a password file made by mosquitto_passwd and the ACL of tests.support.mosquitto)."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support import mosquitto

pytestmark = pytest.mark.skipif(
    not mosquitto.available(), reason="mosquitto / mosquitto_passwd not installed"
)

USERS = [("pickup-bridge", "bridge-pass"), ("bank-a", "pass-a"), ("bank-b", "pass-b")]
SHIPPED_ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"


def test_the_shipped_acl_is_the_one_tested() -> None:
    shipped = SHIPPED_ACL.read_text()
    assert mosquitto.acl_text() in shipped


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mosquitto.MosquittoProcess]:
    proc = mosquitto.MosquittoProcess(
        Path(tmp_path_factory.mktemp("mosq-acl")), users=USERS, acl=SHIPPED_ACL.read_text()
    )
    proc.start()
    yield proc
    proc.stop()


def _client(
    broker: mosquitto.MosquittoProcess, user: str, password: str, *, v5: bool = True
) -> tuple[mqtt.Client, dict[str, Any]]:
    seen: dict[str, Any] = {"messages": [], "pubacks": {}, "connected": threading.Event()}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{user}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    client.username_pw_set(user, password)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        seen["connect_reason"] = reason
        seen["connected"].set()

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, m: seen["messages"].append((m.topic, m.payload))
    client.on_publish = lambda _c, _u, mid, reason, _p: seen["pubacks"].__setitem__(mid, reason)
    client.connect("127.0.0.1", broker.port, keepalive=10)
    client.loop_start()
    assert seen["connected"].wait(5)
    return client, seen


def _close(*clients: mqtt.Client) -> None:
    for client in clients:
        client.disconnect()
        client.loop_stop()


def _subscribe(client: mqtt.Client, seen: dict[str, Any], topics: list[str]) -> None:
    done = threading.Event()
    client.on_subscribe = lambda *_: done.set()
    client.subscribe([(t, 1) for t in topics])
    assert done.wait(5)


def _arrived(seen: dict[str, Any], topic: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(t == topic for t, _ in seen["messages"]):
        assert time.monotonic() < deadline, f"{topic} never arrived"
        time.sleep(0.01)


# One publisher's messages arrive in order: once the legitimate marker sent after a forged
# message has arrived, the forged one would have arrived before it.


def test_a_locker_cannot_publish_as_another_bank(broker: mosquitto.MosquittoProcess) -> None:
    bridge, bridge_seen = _client(broker, "pickup-bridge", "bridge-pass")
    _subscribe(bridge, bridge_seen, ["lockers/+/events", "lockers/+/state"])
    bank_a, a_seen = _client(broker, "bank-a", "pass-a")

    forged = bank_a.publish("lockers/bank-b/events", b'{"forged": true}', qos=1)
    forged_state = bank_a.publish("lockers/bank-b/state", b'{"online": false}', qos=1, retain=True)
    own = bank_a.publish("lockers/bank-a/events", b'{"own": true}', qos=1)
    for info in (forged, forged_state, own):
        info.wait_for_publish(5)
    _arrived(bridge_seen, "lockers/bank-a/events")  # the positive control

    topics = [topic for topic, _ in bridge_seen["messages"]]
    assert "lockers/bank-b/events" not in topics
    assert "lockers/bank-b/state" not in topics
    # MQTT v5: the broker answers the forged publish with "Not authorized" (0x87).
    assert not a_seen["pubacks"][own.mid].is_failure
    assert a_seen["pubacks"][forged.mid].is_failure
    assert a_seen["pubacks"][forged.mid].value == 0x87
    _close(bank_a, bridge)


def test_a_locker_reads_only_its_own_commands(broker: mosquitto.MosquittoProcess) -> None:
    bank_a, a_seen = _client(broker, "bank-a", "pass-a")
    _subscribe(bank_a, a_seen, ["lockers/bank-a/commands", "lockers/bank-b/commands"])
    bridge, _ = _client(broker, "pickup-bridge", "bridge-pass")
    bridge.publish("lockers/bank-b/commands", b"for-b", qos=1).wait_for_publish(5)
    bridge.publish("lockers/bank-a/commands", b"for-a", qos=1).wait_for_publish(5)
    _arrived(a_seen, "lockers/bank-a/commands")
    assert a_seen["messages"] == [("lockers/bank-a/commands", b"for-a")]
    _close(bank_a, bridge)


def test_a_locker_cannot_send_commands(broker: mosquitto.MosquittoProcess) -> None:
    bank_b, b_seen = _client(broker, "bank-b", "pass-b")
    _subscribe(bank_b, b_seen, ["lockers/bank-b/commands"])
    bank_a, _ = _client(broker, "bank-a", "pass-a")
    bank_a.publish("lockers/bank-b/commands", b"open everything", qos=1).wait_for_publish(5)
    bank_a.publish("lockers/bank-a/events", b"marker", qos=1).wait_for_publish(5)
    bridge, _ = _client(broker, "pickup-bridge", "bridge-pass")
    bridge.publish("lockers/bank-b/commands", b"legit", qos=1).wait_for_publish(5)
    _arrived(b_seen, "lockers/bank-b/commands")
    assert b_seen["messages"] == [("lockers/bank-b/commands", b"legit")]
    _close(bank_a, bank_b, bridge)


def test_wrong_password_is_refused(broker: mosquitto.MosquittoProcess) -> None:
    _client_, seen = _client(broker, "bank-a", "not-the-password")
    assert seen["connect_reason"].is_failure
    _close(_client_)
