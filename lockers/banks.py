"""Locker banks, their live state (online, last seen) and their compartments. No commits here."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.neighborhoods.models import Compartment, LockerBank
from lockers.config import get_locker_settings
from lockers.errors import CompartmentNotFound, LockerBankNotFound
from lockers.models import LockerBankState


def get_bank(*, db_session: Session, bank_id: int) -> LockerBank:
    """A locker bank by id, or NotFound."""
    bank = db_session.get(LockerBank, bank_id)
    if bank is None:
        raise LockerBankNotFound(f"no locker bank {bank_id}", field="bank_id")
    return bank


def get_bank_by_code(*, db_session: Session, code: str) -> LockerBank | None:
    """A locker bank by its code (its MQTT identity), if any."""
    return db_session.scalar(select(LockerBank).where(LockerBank.code == code))


def get_all_banks(*, db_session: Session) -> list[LockerBank]:
    """Every locker bank, by id."""
    return list(db_session.scalars(select(LockerBank).order_by(LockerBank.id)))


def get_state(*, db_session: Session, bank_id: int) -> LockerBankState | None:
    """The last known live state of a bank, if it ever spoke."""
    return db_session.get(LockerBankState, bank_id)


def get_or_create_state(*, db_session: Session, bank_id: int) -> LockerBankState:
    """The live-state row of a bank, created (offline) on first use."""
    state = db_session.get(LockerBankState, bank_id)
    if state is None:
        state = LockerBankState(bank_id=bank_id, online=False, state={})
        db_session.add(state)
        db_session.flush()
    # Keep it referenced for the session's life (the identity map alone holds it weakly).
    db_session.info.setdefault("lockers_held", []).append(state)
    return state


def is_online(*, db_session: Session, bank_id: int, now: datetime | None = None) -> bool:
    """Whether the bank is online: its retained state says so and it spoke recently."""
    state = get_state(db_session=db_session, bank_id=bank_id)
    if state is None or not state.online or state.last_seen_at is None:
        return False
    now = now or utcnow()
    limit = timedelta(seconds=get_locker_settings().offline_after_seconds)
    return now - state.last_seen_at <= limit


def get_compartment(*, db_session: Session, compartment_id: int) -> Compartment:
    """A compartment by id, or NotFound."""
    compartment = db_session.get(Compartment, compartment_id)
    if compartment is None:
        raise CompartmentNotFound(f"no compartment {compartment_id}", field="compartment_id")
    return compartment


def get_compartment_by_label(
    *, db_session: Session, bank_id: int, label: str
) -> Compartment | None:
    """A bank's compartment by its label, if any."""
    return db_session.scalar(
        select(Compartment).where(Compartment.bank_id == bank_id, Compartment.label == label)
    )
