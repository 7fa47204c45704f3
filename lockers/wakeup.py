"""In-process wake-ups: a bridge running in this process hears of new commands at commit.

Across processes the bridge is woken by PostgreSQL NOTIFY (see command_queue.queue_command) or finds
new commands by polling.
"""

import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

_lock = threading.Lock()
_listeners: list[Callable[[], None]] = []
_PENDING = "lockers_wake_pending"


def register(callback: Callable[[], None]) -> None:
    """Call `callback` whenever a transaction that queued commands commits."""
    with _lock:
        _listeners.append(callback)


def unregister(callback: Callable[[], None]) -> None:
    """Stop calling `callback`."""
    with _lock:
        if callback in _listeners:
            _listeners.remove(callback)


def wake_all() -> None:
    """Wake every registered listener now."""
    with _lock:
        listeners = list(_listeners)
    for callback in listeners:
        callback()


def after_commit(db_session: Session) -> None:
    """Wake the listeners once this session's transaction commits."""
    if db_session.info.get(_PENDING):
        return
    db_session.info[_PENDING] = True

    def _fire(session: Session) -> None:
        session.info.pop(_PENDING, None)
        wake_all()

    event.listen(db_session, "after_commit", _fire, once=True)
