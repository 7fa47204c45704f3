"""What the simulated locker does to paho's outgoing queue at a reconnection.

States published while the link was already dead (paho had not noticed yet) wait in paho's
QoS 1 queue and would go out after the fresh state of the new connection, with lower `seq`s.
A state is a snapshot: the fresh one supersedes them, so they are dropped before paho re-sends
what it kept ([L-5.1], [L-5.4]); buffered events and acks stay queued, in order ([L-6.3]).
paho has no public call for this, hence its private queue, guarded by its own lock.
"""

from typing import Any

import paho.mqtt.client as mqtt


def drop_queued_states(client: mqtt.Client, topic: str) -> int:
    """Remove the messages for `topic` still queued in `client` (call from on_connect, before
    publishing the fresh state); how many were dropped."""
    queue: Any = getattr(client, "_out_messages", None)
    lock: Any = getattr(client, "_out_message_mutex", None)
    if queue is None or lock is None:
        return 0
    with lock:
        stale = [mid for mid, message in queue.items() if message.topic == topic]
        for mid in stale:
            del queue[mid]
    return len(stale)
