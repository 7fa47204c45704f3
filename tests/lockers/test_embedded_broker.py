"""The embedded broker keeps every client when many connect and subscribe at once."""

import logging
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lockers.broker import EmbeddedBroker, SubscriptionTable, free_port

CLIENTS = 40


def test_the_table_can_change_while_it_is_walked() -> None:
    table = SubscriptionTable({"a": [], "b": []})
    for topic in table:
        table[topic + "/new"] = []
    for topic, _ in table.items():
        if not topic.endswith("/new"):
            del table[topic]
    assert table == {"a/new": [], "b/new": []}


def test_clients_connecting_while_others_subscribe_all_get_their_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    subscribed = threading.Semaphore(0)
    clients = []
    try:
        _retain_one_message_per_topic(broker)
        for k in range(CLIENTS):
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"burst-{k}")
            client.username_pw_set(f"burst-{k}")
            topic = f"burst/{k}/#"
            client.on_connect = lambda c, _u, _f, _r, _p, topic=topic: c.subscribe(topic, 1)
            client.on_subscribe = lambda *_: subscribed.release()
            client.connect_async(broker.target.host, broker.target.port)
            client.loop_start()
            clients.append(client)
        got = sum(subscribed.acquire(timeout=20) for _ in range(CLIENTS))
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.stop()
    crashed = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert got == CLIENTS
    assert crashed == []


def _retain_one_message_per_topic(broker: EmbeddedBroker) -> None:
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="burst-retainer")
    publisher.username_pw_set("burst-retainer")
    publisher.connect(broker.target.host, broker.target.port)
    publisher.loop_start()
    sent = [
        publisher.publish(f"burst/{k}/state", b"x" * 2000, 1, retain=True) for k in range(CLIENTS)
    ]
    for message in sent:
        message.wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()
