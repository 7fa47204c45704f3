"""The bridge's ingest workers: what arrives from the lockers, stored in batches of one
transaction each and acknowledged to the broker only after that transaction committed.

Two lanes (acks apart from state and events, so a waiting driver never queues behind door
reports); a batch that fails is retried message by message.
"""

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import utcnow
from app.neighborhoods import queries as neighborhood_queries
from app.neighborhoods.queries import LockerBankView
from lockers import acks, ingest, protocol

log = logging.getLogger(__name__)

CommandCallback = Callable[[str, str], None]
_UNKNOWN_TTL_S = 60.0
_BATCH = 200


def _field(payload: bytes, name: str) -> str | None:
    """A top-level string field of a JSON payload, or None (for prefetching only)."""
    try:
        value = json.loads(payload).get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Incoming:
    """A message received from a bank, waiting to be stored."""

    bank_code: str
    channel: protocol.Channel
    payload: bytes
    mid: int
    qos: int
    received_at: datetime


class IngestWorkers:
    """The two inbound lanes and the work of storing what arrives in them."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        stats: Counter[str],
        acknowledge: Callable[[int, int], object],
        on_command_finished: CommandCallback | None,
    ) -> None:
        self.sessions = sessions
        self.stats = stats
        self.acknowledge = acknowledge
        self.on_command_finished = on_command_finished
        self.inbox: queue.Queue[Incoming] = queue.Queue()
        self.ack_inbox: queue.Queue[Incoming] = queue.Queue()
        self._banks_by_code: dict[str, int] = {}
        self._unknown: dict[str, float] = {}

    def put(self, item: Incoming) -> None:
        """Queue a received message in its lane (acks have a lane of their own)."""
        (self.ack_inbox if item.channel == protocol.Channel.ACKS else self.inbox).put(item)

    def backlog(self) -> int:
        """Incoming messages received but not yet stored."""
        return self.inbox.qsize() + self.ack_inbox.qsize()

    def run(self, inbox: "queue.Queue[Incoming]", stop: threading.Event) -> None:
        """Store what arrives in one lane, batch by batch, until `stop` is set."""
        while not stop.is_set():
            try:
                first = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(inbox.get_nowait())
                except queue.Empty:
                    break
            self.stats["batches"] += 1
            if not self._process_batch(batch):
                # One bad message (or a database hiccup) spoiled the batch: one by one.
                for item in batch:
                    if self.process(item.bank_code, item.channel, item.payload, item.received_at):
                        self.acknowledge(item.mid, item.qos)

    def _process_batch(self, batch: list["Incoming"]) -> bool:
        """Store and apply a batch in one transaction, then acknowledge it to the broker."""
        outcomes: list[str] = []
        finished: list[tuple[str, str]] = []
        try:
            with self.sessions() as db_session:
                self._prefetch(db_session, batch)
                for item in batch:
                    outcome, done = self._handle(
                        db_session, item.bank_code, item.channel, item.payload, item.received_at
                    )
                    outcomes.append(f"{item.channel.value}:{outcome.split(':')[0]}")
                    if done is not None:
                        finished.append(done)
                db_session.commit()
        except Exception:  # noqa: BLE001 - retried message by message
            log.warning("batch of %d failed; retrying one by one", len(batch), exc_info=True)
            return False
        self.stats.update(outcomes)
        for item in batch:
            self.acknowledge(item.mid, item.qos)
        if self.on_command_finished is not None:
            for command_id, status in finished:
                self.on_command_finished(command_id, status)
        return True

    def _prefetch(self, db_session: Session, batch: list["Incoming"]) -> None:
        bank_ids = set()
        for item in batch:
            bank = self._banks_by_code.get(item.bank_code)
            if bank is not None:
                bank_ids.add(bank)
        command_ids, event_ids = set(), set()
        for item in batch:
            if item.channel == protocol.Channel.ACKS:
                command_id = _field(item.payload, "command_id")
                if command_id:
                    command_ids.add(command_id)
            elif item.channel == protocol.Channel.EVENTS:
                event_id = _field(item.payload, "event_id")
                if event_id:
                    event_ids.add(event_id)
        ingest.prefetch(
            db_session=db_session,
            bank_ids=bank_ids,
            command_ids=command_ids,
            event_ids=event_ids,
            states=any(item.channel != protocol.Channel.ACKS for item in batch),
        )

    def _handle(
        self,
        db_session: Session,
        bank_code: str,
        channel: protocol.Channel,
        payload: bytes,
        received_at: datetime,
    ) -> tuple[str, tuple[str, str] | None]:
        bank = self._bank(db_session, bank_code)
        if bank is None:
            return "unknown_bank", None
        if channel == protocol.Channel.STATE:
            return ingest.handle_state(
                db_session=db_session, bank=bank, payload=payload, received_at=received_at
            ), None
        if channel == protocol.Channel.EVENTS:
            return ingest.handle_event(
                db_session=db_session, bank=bank, payload=payload, received_at=received_at
            ), None
        outcome, command = acks.handle_ack(
            db_session=db_session, bank=bank, payload=payload, received_at=received_at
        )
        done = (
            (command.id, outcome)
            if command is not None and outcome in ("acked", "failed")
            else None
        )
        return outcome, done

    def process(
        self,
        bank_code: str,
        channel: protocol.Channel,
        payload: bytes,
        received_at: datetime | None = None,
    ) -> bool:
        """Store and apply one message in its own transaction; False only when the database
        kept failing (then it is not acknowledged, and the broker delivers it again)."""
        received_at = received_at or utcnow()
        for attempt in range(3):
            try:
                with self.sessions() as db_session:
                    outcome, done = self._handle(
                        db_session, bank_code, channel, payload, received_at
                    )
                    db_session.commit()
                self.stats[f"{channel.value}:{outcome.split(':')[0]}"] += 1
                if done is not None and self.on_command_finished is not None:
                    self.on_command_finished(*done)
                return True
            except DBAPIError:
                log.exception("database error on %s/%s (try %d)", bank_code, channel, attempt + 1)
                time.sleep(0.2 * (attempt + 1))
            except Exception:
                log.exception("could not process %s/%s; dropped", bank_code, channel)
                self.stats["errors"] += 1
                return True
        return False

    def _bank(self, db_session: Session, code: str) -> LockerBankView | None:
        bank_id = self._banks_by_code.get(code)
        if bank_id is not None:
            known: LockerBankView | None = db_session.info.get(ingest.BANKS, {}).get(bank_id)
            if known is not None:
                return known
            return neighborhood_queries.locker_bank(db_session=db_session, bank_id=bank_id)
        unknown_since = self._unknown.get(code)
        if unknown_since is not None and time.monotonic() - unknown_since < _UNKNOWN_TTL_S:
            return None
        bank = neighborhood_queries.locker_bank_by_code(db_session=db_session, code=code)
        if bank is None:
            self._unknown[code] = time.monotonic()
            return None
        self._unknown.pop(code, None)
        self._banks_by_code[code] = bank.id
        return bank
