"""A bank's messages (state, events, acks) handed to the locker services as the bridge hands
them, without a broker; a queued command; the outbox events that result."""

from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.events.models import OutboxEvent
from lockers import acks, command_queue, ingest, protocol, settings_sync
from lockers.models import LockerCommand
from tests.lockers.conftest import World


def outbox_events(db: Session, kind: str, **match: object) -> list[OutboxEvent]:
    """The outbox events of `kind` whose payload holds every `match`, oldest first."""
    rows = db.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id))
    return [e for e in rows if all(e.payload.get(k) == v for k, v in match.items())]


def queue_command(w: World, db: Session, ttl: float = 60) -> LockerCommand:
    """A command for the world's bank (A1 out of service), queued with `ttl` seconds to live."""
    return command_queue.queue_command(
        db_session=db,
        bank_id=w.bank.id,
        kind=protocol.CommandType.SET_OUT_OF_SERVICE,
        args={"compartment": "A1", "out_of_service": True},
        ttl_seconds=ttl,
    )


def send_ack(w: World, db: Session, command_id: str, status: str = "ok", **extra: object) -> str:
    """The bank's ack of `command_id`, handled as the bridge does; the outcome."""
    payload = (
        protocol.AckMessage(command_id=command_id, status=protocol.AckStatus(status), **extra)
        .model_dump_json()
        .encode()
    )  # type: ignore[arg-type]
    outcome, _ = acks.handle_ack(db_session=db, bank=w.bank, payload=payload, received_at=utcnow())
    return outcome


def server_keypad_settings() -> dict[str, int]:
    """The keypad settings the server wants, as a locker reports them."""
    wanted = settings_sync.wanted_settings()
    return {"max_attempts": wanted["keypad_max_attempts"], "lockout_s": wanted["keypad_lockout_s"]}


def send_state(w: World, db: Session, message: protocol.StateMessage, at: object = None) -> str:
    """A state message from the world's bank, handled as the bridge does; the outcome."""
    return ingest.handle_state(
        db_session=db,
        bank=w.bank,
        payload=message.model_dump_json().encode(),
        received_at=at or utcnow(),
    )  # type: ignore[arg-type]


def send_door_opened(w: World, db: Session, seq: int, at: object) -> None:
    """A door-opened event numbered `seq` from the world's bank (A1)."""
    message = protocol.EventMessage(
        event_id=f"evt-{uuid4().hex}",
        seq=seq,
        ts=at,
        type=protocol.EventType.DOOR_OPENED,
        compartment="A1",
    )
    ingest.handle_event(
        db_session=db, bank=w.bank, payload=message.model_dump_json().encode(), received_at=at
    )  # type: ignore[arg-type]
